/**
 * USR2 binary upgrade, as Gunicorn's `reexec()`: the arbiter starts a new arbiter — the same
 * command line, so a new runtime/app version on disk — that inherits every listening socket
 * (as extra stdio fds, named in `PRODSERVER_FDS`) instead of binding. Both serve from the same
 * sockets; the operator then stops the old one (TERM: its workers drain) — or, to roll back,
 * stops the new one. The new arbiter writes `<pidfile>.2` and renames it to `<pidfile>` once its
 * parent (the old arbiter) is gone. A second USR2 is ignored while a new arbiter runs, and a
 * re-exec'd arbiter ignores USR2 while its parent lives.
 * (Not useful as PID 1 in a container: when the old arbiter exits, the container ends.)
 */
import type { ChildProcess } from "node:child_process";
import { builtin } from "../builtin.js";
import fs from "node:fs";
import { listenerFds, type Listener } from "../listeners.js";
import type { Logger } from "../log.js";
import { removePidfile, writePidfile } from "./pidfile.js";
import { workerExecArgv } from "./worker-record.js";

const FDS_ENV = "PRODSERVER_FDS";
const PARENT_ENV = "PRODSERVER_REEXEC_PARENT";

/**
 * Sockets inherited from an old arbiter (bind string -> fds: one, or one per worker slot with
 * reuse_port), consuming the variables from `env`.
 */
export function takeInherited(env: NodeJS.ProcessEnv = process.env): { fds: Map<string, number[]>; parent: number | null } {
  const fds = new Map<string, number[]>();
  try {
    for (const [bind, fd] of Object.entries(JSON.parse(env[FDS_ENV] ?? "{}") as Record<string, number | number[]>)) fds.set(bind, Array.isArray(fd) ? fd : [fd]);
  } catch {
    /* malformed: bind normally */
  }
  const parent = Number(env[PARENT_ENV]) || null;
  delete env[FDS_ENV];
  delete env[PARENT_ENV];
  return { fds, parent: parent && parent === process.ppid ? parent : null };
}

/** The old-arbiter side of USR2, plus the new arbiter's pidfile promotion. */
export class Reexec {
  private child: ChildProcess | null = null;

  constructor(
    private readonly log: Logger,
    private readonly pidfile: string | null,
    /** Pid of the old arbiter when this one was re-exec'd, else null. */
    private parent: number | null,
  ) {}

  /** The pidfile this arbiter writes: `<pidfile>.2` while its old arbiter lives. */
  pidfilePath(): string | null {
    return this.pidfile && this.parent ? `${this.pidfile}.2` : this.pidfile;
  }

  /** True while a re-exec'd child arbiter runs (it uses our unix socket files). */
  childAlive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Handle USR2: run `preExec` (the pre_exec hook), spawn the new arbiter with our listeners on fds 3.. . */
  start(listeners: readonly Listener[], preExec?: () => void): void {
    if (this.childAlive()) return this.log.warning("USR2 ignored: a re-exec'd arbiter is already running");
    if (this.parent && this.parent === process.ppid) return this.log.warning("USR2 ignored: this arbiter is itself a re-exec and its parent still runs");
    const names: Record<string, number[]> = {};
    const fds: number[] = [];
    for (const l of listeners) names[l.bind] = listenerFds(l).map((fd) => 3 + fds.push(fd) - 1);
    preExec?.();
    const { spawn } = builtin<typeof import("node:child_process")>("node:child_process");
    const child = spawn(process.execPath, [...workerExecArgv(), ...process.argv.slice(1)], {
      stdio: ["inherit", "inherit", "inherit", ...fds],
      env: { ...process.env, [FDS_ENV]: JSON.stringify(names), [PARENT_ENV]: String(process.pid) },
    });
    this.child = child;
    this.log.info(`Re-exec: started a new arbiter (pid ${child.pid}) inheriting ${fds.length} socket(s)`);
    child.on("exit", (code, signal) => {
      this.log.info(`Re-exec'd arbiter ${child.pid} exited (${signal ?? code})`);
      this.child = null;
    });
    child.on("error", (e) => this.log.error(`Re-exec failed: ${e.message}`));
  }

  /** New arbiter: once the old one is gone, move `<pidfile>.2` to `<pidfile>` (Gunicorn's maybe_promote_master). */
  watchParent(): NodeJS.Timeout | null {
    if (!this.parent) return null;
    return setInterval(() => {
      if (!this.parent || process.ppid === this.parent) return;
      this.log.info(`The old arbiter ${this.parent} is gone; this arbiter is now the master`);
      if (this.pidfile) {
        try {
          writePidfile(this.pidfile);
          removePidfile(`${this.pidfile}.2`);
        } catch (e) {
          this.log.error((e as Error).message);
        }
      }
      this.parent = null;
    }, 250).unref();
  }

  /** Remove our pidfile (whichever name it has now). */
  cleanup(): void {
    const p = this.pidfilePath();
    if (p && fs.existsSync(p)) removePidfile(p);
  }
}
