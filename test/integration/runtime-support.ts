// Helpers for the runtime integration tests: start `prodserver serve` as a real process on a
// real socket (port 0, read back from the "Listening at:" log line), make HTTP requests, wait
// for conditions with a bound, and always kill what was started (by PID).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const BUNDLE = path.join(ROOT, "dist/prodserver-runtime.mjs");
export const MAIN_JS = path.join(ROOT, "dist/runtime/main.js");
export const APPS = path.join(ROOT, "test/fixtures/apps");

const started = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of started)
    if (p.exitCode === null && p.pid)
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
});

/** Kill (SIGKILL) every process `run` started that is still running; call from `after()`. */
export async function killAll(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null && p.pid) {
      waits.push(new Promise((r) => p.once("exit", r)));
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
}

export interface Server {
  proc: ChildProcess;
  pid: number;
  /** `http://127.0.0.1:PORT` of the first TCP listener (empty for unix-only binds). */
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with {code, signal} when the arbiter exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Send a signal and wait (bounded) for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Run the runtime with `args` (e.g. ["serve", "app.mjs#app", ...]) in `cwd` (default: the fixture apps). */
export function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; entry?: string } = {}): Server {
  const proc = spawn(process.execPath, [opts.entry ?? BUNDLE, ...args], {
    cwd: opts.cwd ?? APPS,
    env: { ...process.env, PORT: "", WEB_CONCURRENCY: "", PRODSERVER_CMD_ARGS: "", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(proc);
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => {
      started.delete(proc);
      resolve({ code, signal });
    }),
  );
  const server: Server = {
    proc,
    pid: proc.pid!,
    url: "",
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = "SIGTERM", timeoutMs = 15000) {
      if (proc.exitCode === null) proc.kill(signal);
      return withTimeout(exited, timeoutMs, `arbiter ${proc.pid} to exit after ${signal}\n${err}`);
    },
  };
  return server;
}

/** Start a server and wait until it listens and `/readyz` answers 200 (bounded); with `workers`, until that many run and all are ready. */
export async function start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; entry?: string; workers?: number } = {}): Promise<Server> {
  const s = run(args, opts);
  await waitFor(() => /Listening at: /.test(s.stderr()) || s.proc.exitCode !== null, 20000, "Listening at");
  if (s.proc.exitCode !== null) throw new Error(`server exited ${s.proc.exitCode}:\n${s.stderr()}`);
  const m = /Listening at: (http:\/\/\S+)/.exec(s.stderr());
  s.url = m ? m[1] : "";
  if (s.url) await waitFor(async () => (await get(`${s.url}/readyz`).catch(() => null))?.status === 200, 20000, "readyz 200");
  if (opts.workers) {
    await waitFor(() => workerPids(s.pid).length === opts.workers, 20000, `${opts.workers} workers`);
    // Every first-generation worker booted (one answering /readyz does not mean its siblings have).
    await waitFor(() => /Ready: \d+ worker\(s\) serving/.test(s.stderr()), 20000, "all workers ready");
  }
  return s;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET (or other method) with a fresh connection unless an agent is given. */
export function get(url: string, opts: { agent?: http.Agent; method?: string; headers?: Record<string, string>; socketPath?: string; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", agent: opts.agent ?? false, headers: opts.headers, socketPath: opts.socketPath }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10000, () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

/** Poll `cond` every 50 ms until true; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))]).finally(() => clearTimeout(t));
}

/** PIDs of the live children of `ppid` whose title is a prodserver worker (from /proc). */
export function workerPids(ppid: number): number[] {
  return childPids(ppid, "prodserver: worker");
}

/** `pred` applied to ONE reading of the worker pids (two readings may see different workers). */
export function workersMatch(ppid: number, pred: (pids: number[]) => boolean): boolean {
  return pred(workerPids(ppid));
}

/** PIDs of the live children of `ppid` whose title (cmdline) starts with `prefix`. */
export function childPids(ppid: number, prefix: string): number[] {
  return procPids((fields, cmd) => Number(fields[1]) === ppid && cmd().startsWith(prefix));
}

/** PIDs of the live processes in process group `pgid` whose cmdline starts with `prefix`. */
export function groupPids(pgid: number, prefix: string): number[] {
  return procPids((fields, cmd) => Number(fields[2]) === pgid && cmd().startsWith(prefix));
}

/** PIDs of the live processes `keep` accepts, given their /proc stat fields from the state on ([1] ppid, [2] pgrp) and their cmdline (read on demand). */
function procPids(keep: (fields: string[], cmdline: () => string) => boolean): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && keep(fields, () => fs.readFileSync(`/proc/${d}/cmdline`, "utf8"))) out.push(Number(d));
    } catch {
      /* raced with an exit */
    }
  }
  return out.sort((a, b) => a - b);
}

/** The title (cmdline as set by process.title) of a pid. */
export function title(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "");
  } catch {
    return "";
  }
}

/** True while `pid` runs (a zombie, which an init that does not reap may leave around, is not running). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Keep `concurrency` keep-alive request loops running until `stop()` (at most 30 s); count the
 * bodies and the failures. Loop 0 requests `url/slow`, the others `url/`.
 */
export function load(url: string, concurrency: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const bodies = new Map<string, number>();
  const errors: string[] = [];
  let running = true;
  let total = 0;
  const loops = Array.from({ length: concurrency }, async (_, i) => {
    const until = Date.now() + 30000; // hard bound
    while (running && Date.now() < until) {
      try {
        const r = await get(i === 0 ? `${url}/slow` : `${url}/`, { agent, timeoutMs: 5000 });
        if (r.status !== 200) errors.push(`status ${r.status}`);
        bodies.set(r.body, (bodies.get(r.body) ?? 0) + 1);
        total++;
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  });
  return {
    bodies,
    errors,
    total: () => total,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}
