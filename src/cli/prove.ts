/**
 * The proof that a detected `app` serves: boot it with the runtime this package ships
 * (`dist/prodserver-runtime.mjs`, the same file the image runs) on an ephemeral loopback port with
 * one worker, wait for `/readyz` to answer 200, then request `/`: any answer below 500 is serving
 * (an app may well answer 404 or a redirect at `/`). The runtime is stopped with SIGTERM (SIGKILL
 * to its process group after 15 s). Nothing is written; the app's own output is kept for the report.
 */
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { packageRoot } from "../package-root.js";

/** What to boot. */
export interface ProofOptions {
  /** The folder the runtime runs in (the app folder; Next.js standalone: the folder of server.js). */
  cwd: string;
  /** The runtime's APP argument (`next start`, `dist/main`, `app.js#app`). */
  app: string;
  /** `--app-port`, when the app listens on a fixed port. */
  appPort?: number | null;
  /** Seconds to wait for `/readyz` to answer 200 (default 90: a cold Next.js start on a busy machine). */
  readySeconds?: number;
}

/** What the proof saw. */
export interface Proof {
  ok: boolean;
  /** One line: `GET /readyz 200, GET / 200 in 2.1 s`, or what went wrong. */
  detail: string;
  /** The runtime's and the app's output (the last 8 KB). */
  log: string;
  seconds: number;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function ephemeralPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => s.once("error", reject).listen(0, "127.0.0.1", resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** GET `url`: its status and the first 300 characters of the body; rejects on a socket error or after `ms`. */
function get(url: string, ms: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body = (body + c).slice(0, 300)));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.setTimeout(ms, () => req.destroy(new Error(`no answer within ${ms / 1000} s`)));
    req.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Boot `opts.app` with the runtime and request `/readyz` and `/` (see the module doc).
 * @returns the {@link Proof}; never throws for the app's failures (they are in `detail` and `log`).
 */
export async function proveServes(opts: ProofOptions): Promise<Proof> {
  const started = performance.now();
  const port = await ephemeralPort();
  const runtime = path.join(packageRoot(), "dist/prodserver-runtime.mjs");
  const args = [runtime, "serve", "--bind", `127.0.0.1:${port}`, "--workers", "1", "--graceful-timeout", "5"];
  if (opts.appPort) args.push("--app-port", String(opts.appPort));
  args.push(opts.app);
  // The runtime's own variables from this shell would change what is booted (PORT is a bind).
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" };
  for (const k of ["PORT", "WEB_CONCURRENCY", "PRODSERVER_CMD_ARGS", "FORWARDED_ALLOW_IPS"]) delete env[k];
  const child = spawn(process.execPath, args, { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  const keep = (b: Buffer) => (log = (log + b.toString("utf8")).slice(-8192));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exit: string | null = null;
  const exited = new Promise<void>((r) => child.once("exit", (code, signal) => ((exit = signal ?? `code ${code}`), r())));
  const seconds = () => (performance.now() - started) / 1000;
  const base = `http://127.0.0.1:${port}`;
  let detail: string;
  let ok = false;
  try {
    const deadline = Date.now() + (opts.readySeconds ?? 90) * 1000;
    let ready: number | null = null;
    while (ready !== 200 && exit === null && Date.now() < deadline) {
      ready = await get(`${base}/readyz`, 2000).then(
        (r) => r.status,
        () => null,
      );
      if (ready !== 200) await sleep(250);
    }
    if (ready !== 200) {
      detail = exit !== null ? `the runtime exited (${exit}) before the app served` : `/readyz did not answer 200 within ${opts.readySeconds ?? 90} s (last: ${ready ?? "no answer"})`;
    } else {
      const root = await get(`${base}/`, 30_000).catch((e: Error) => e);
      if (root instanceof Error) detail = `GET /readyz 200, but GET / failed: ${root.message}`;
      else {
        ok = root.status < 500;
        const body = root.body.replace(/\s+/g, " ").trim().slice(0, 120);
        detail = ok ? `GET /readyz 200, GET / ${root.status} in ${seconds().toFixed(1)} s` : `GET /readyz 200, but GET / answered ${root.status}: ${body}`;
      }
    }
  } finally {
    if (exit === null) {
      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!stopped) {
        try {
          process.kill(-child.pid!, "SIGKILL"); // the runtime and its worker, as one group
        } catch {
          /* already gone */
        }
        await exited;
      }
    }
  }
  return { ok, detail, log, seconds: seconds() };
}
