/**
 * systemd integration (what Gunicorn's `systemd.py` does, plus the notifications it lacks):
 *
 * - Socket activation: when `LISTEN_PID` is this process and `LISTEN_FDS=n`, the sockets on
 *   fds 3..3+n-1 are used instead of `bind` (and never unlinked: systemd owns them).
 *   Both variables are removed from the environment so workers and the app do not see them.
 * - `Type=notify`: `READY=1` once the first generation of workers serves (Gunicorn sends it
 *   before forking), `RELOADING=1` + `MONOTONIC_USEC` on HUP and `READY=1` when the reload is
 *   done or rolled back, `STOPPING=1` on stop, `STATUS=` lines along the way.
 *   Node has no unix datagram sockets, so messages are sent with the `systemd-notify` binary
 *   (systemd's own tool; it waits for systemd to process each message). Because the sender is
 *   then not the main PID, the unit needs `NotifyAccess=all`. Without the binary a warning is
 *   logged once and nothing is sent (use `Type=simple` then).
 */
import { builtin } from "../builtin.js";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../log.js";

/** First fd systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/**
 * The fds systemd passed to this process (empty when none), consuming LISTEN_PID/LISTEN_FDS/
 * LISTEN_FDNAMES from `env`.
 */
export function takeListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  const n = Number(env.LISTEN_FDS);
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(n) || n <= 0) return [];
  return Array.from({ length: n }, (_, i) => LISTEN_FDS_START + i);
}

/** `systemd-notify` from PATH, or its usual absolute path when PATH does not have it (a minimal environment). */
function notifyBinary(): string {
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean)) {
    if (fs.existsSync(path.join(dir, "systemd-notify"))) return path.join(dir, "systemd-notify");
  }
  return ["/usr/bin/systemd-notify", "/bin/systemd-notify"].find((p) => fs.existsSync(p)) ?? "systemd-notify";
}

/** Sends sd_notify messages through `systemd-notify`, in order. */
export class Notifier {
  private readonly socket: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private warned = false;

  /** Takes NOTIFY_SOCKET out of `env` (workers must not inherit it). */
  constructor(
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.socket = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
  }

  /** Queue one notification, e.g. `notify("READY=1", "STATUS=serving")`. Resolves when sent (or failed). */
  notify(...assignments: string[]): Promise<void> {
    if (!this.socket) return Promise.resolve();
    if (assignments.length === 0) return this.chain; // just wait for what is queued
    const socket = this.socket;
    this.chain = this.chain.then(
      () =>
        new Promise<void>((resolve) => {
          const { spawn } = builtin<typeof import("node:child_process")>("node:child_process");
          const p = spawn(notifyBinary(), assignments, { env: { ...process.env, NOTIFY_SOCKET: socket }, stdio: ["ignore", "ignore", "pipe"] });
          let err = "";
          p.stderr!.on("data", (d) => (err += d));
          const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
          p.on("error", (e: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            if (!this.warned) {
              this.warned = true;
              this.log.warning(`NOTIFY_SOCKET is set but systemd-notify could not run (${e.code ?? e.message}); no READY/RELOADING/STOPPING notifications`);
            }
            resolve();
          });
          p.on("exit", (code) => {
            clearTimeout(timer);
            if (code !== 0) this.log.warning(`systemd-notify ${assignments.join(" ")} failed (exit ${code}): ${err.trim()}`);
            resolve();
          });
        }),
    );
    return this.chain;
  }

  /** `MONOTONIC_USEC=` for RELOADING=1 (CLOCK_MONOTONIC, as uv_hrtime on Linux). */
  static monotonicUsec(): string {
    return `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`;
  }
}
