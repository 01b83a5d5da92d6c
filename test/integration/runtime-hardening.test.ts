// Hostile traffic and stray errors (issue 11): request heads bounded per worker (memory, count,
// header_timeout), stray errors logged while the worker keeps serving (or retires), EMFILE logged
// once, and spoofed forwarding headers from an untrusted peer (its own network namespace) never
// reaching the app. Every load loop here is bounded in time and goes to loopback.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { after, describe, test } from "node:test";
import { NAMES_REQUESTS } from "../../runtime/worker/stray-errors.js";
import { APPS, BUNDLE, ROOT, get, killAll, start, waitFor, withTimeout, workerPids, type Server } from "./runtime-support.js";

after(killAll);

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const noNetns = process.getuid?.() !== 0 ? "needs root for a network namespace of its own" : ["unshare", "curl", "ip"].find((c) => !has(c));

/** Prometheus text -> `name{labels}` -> value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await get(url)).body.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const metricsUrl = (s: Server) => /Metrics at: (http:\/\/\S+)/.exec(s.stderr())![1];

/** Fresh-connection GETs from `concurrency` loops until `ms` passed; returns the failures and the pids that answered. */
async function load(url: string, ms: number, concurrency = 4): Promise<{ ok: number; failed: string[]; pids: Set<string> }> {
  const until = Date.now() + ms;
  const r = { ok: 0, failed: [] as string[], pids: new Set<string>() };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        try {
          const res = await get(url);
          if (res.status === 200) r.ok++;
          else r.failed.push(`status ${res.status}`);
          r.pids.add(String(res.headers["x-served-by"]));
        } catch (e) {
          r.failed.push((e as Error).message);
        }
      }
    }),
  );
  return r;
}

/** One worker with `extra` settings under the load loop for 3 s; 0.5 s into it, GET each of `paths` (each must answer 200). */
async function strayUnderLoad(extra: string[], paths: string[]): Promise<{ s: Server; pid: number; r: Awaited<ReturnType<typeof load>> }> {
  const s = await start(["serve", "echo-app.mjs#app", "-w", "1", "-b", "127.0.0.1:0", ...extra], { workers: 1 });
  const [pid] = workerPids(s.pid);
  const loaded = load(s.url, 3000);
  await new Promise((r) => setTimeout(r, 500));
  for (const p of paths) assert.equal((await get(`${s.url}${p}`)).status, 200);
  return { s, pid, r: await loaded };
}

/** Open a connection, write `head` (never finished), resolve with what the server answered once it closes it. */
function parkHead(port: number, head: Buffer[]): { closed: Promise<string>; sock: net.Socket } {
  const sock = net.connect(port, "127.0.0.1");
  let got = "";
  sock.on("data", (d) => (got += d.toString("latin1")));
  sock.on("error", () => {});
  sock.on("connect", async () => {
    for (const part of head) if (!sock.destroyed && !sock.write(part)) await new Promise((r) => (sock.once("drain", r), sock.once("close", r)));
  });
  return { sock, closed: new Promise((resolve) => sock.on("close", () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? "none"))) };
}

describe("runtime hardening", { timeout: 180000 }, () => {
  test("request heads: a flood of large unfinished heads is cut (431/408) while normal requests are served; header_timeout -> 408", async () => {
    const s = await start(
      ["serve", "echo-app.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0", "--limit-header-memory", "512K", "--limit-header-connections", "8", "--header-timeout", "2"],
      { workers: 1 },
    );
    const port = Number(new URL(s.url).port);
    // 30 connections, each parking a ~200 KB head within the limits (97 lines of 2 KB).
    const line = (n: number) => Buffer.from(`X-Flood-${n}: ${"v".repeat(2000)}\r\n`);
    const head = [Buffer.from("GET /flood HTTP/1.1\r\nHost: x\r\n"), ...Array.from({ length: 97 }, (_, n) => line(n))];
    const flood = Array.from({ length: 30 }, () => parkHead(port, head));
    const normal = load(s.url, 2000, 2);
    const verdicts = await withTimeout(Promise.all(flood.map((f) => f.closed)), 20000, "the server to close every flooding connection");
    const served = await normal;
    assert.deepEqual(served.failed, [], "normal requests during the flood");
    assert.ok(served.ok > 0);
    for (const v of verdicts) assert.match(v, /^(431|408|none)$/);
    assert.ok(verdicts.includes("431"), `some were answered 431: ${verdicts.join(" ")}`);

    // Slowloris: a head that stops coming gets 408 after header_timeout.
    const slow = parkHead(port, [Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n")]);
    assert.equal(await withTimeout(slow.closed, 10000, "the slow head to be closed"), "408");
    assert.equal((await get(`${s.url}/after`)).status, 200);

    const m = await scrape(metricsUrl(s));
    assert.ok((m.get('prodserver_requests_refused_total{reason="header_memory"}') ?? 0) >= 1, "header_memory counted");
    assert.ok((m.get('prodserver_requests_refused_total{reason="header_timeout"}') ?? 0) >= 1, "header_timeout counted");
    assert.equal((await s.stop()).code, 0);
  });

  test("stray errors are logged as JSON (with their request on Node 24+), and the worker keeps serving: 0 failed requests under load", async () => {
    const { s, pid, r } = await strayUnderLoad(["--log-format", "json"], ["/reject-later?ms=50", "/throw-later?ms=50", "/reject-later?ms=80", "/throw-later?ms=80"]);
    assert.deepEqual(r.failed, []);
    assert.deepEqual([...r.pids], [String(pid)], "the same worker served throughout");
    await waitFor(() => (s.stderr().match(/stray (rejection|throw) for/g) ?? []).length >= 4, 5000, "four stray errors logged");
    const lines = s
      .stderr()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const during = (p: string) => (NAMES_REQUESTS ? ` while handling "GET ${p.replace(/[?.]/g, "\\$&")}"` : "");
    const rejection = lines.find((l) => l.kind === "unhandled_rejection" && String(l.message).endsWith("/reject-later?ms=50"));
    assert.ok(rejection, s.stderr());
    assert.equal(rejection.level, "error");
    assert.equal(rejection.pid, pid);
    assert.equal(rejection.request, NAMES_REQUESTS ? "GET /reject-later?ms=50" : undefined);
    assert.match(String(rejection.message), new RegExp(`^Unhandled promise rejection${during("/reject-later?ms=50")}: Error: stray rejection for /reject-later\\?ms=50$`));
    assert.match(String(rejection.stack), /echo-app\.mjs/);
    const thrown = lines.find((l) => l.kind === "uncaught_exception" && String(l.message).endsWith("/throw-later?ms=80"));
    assert.ok(thrown, s.stderr());
    assert.match(String(thrown.message), new RegExp(`^Uncaught exception${during("/throw-later?ms=80")}: Error: stray throw for /throw-later\\?ms=80$`));
    assert.deepEqual(workerPids(s.pid), [pid]);
    assert.equal((await s.stop()).code, 0);
  });

  test("stray_errors=retire: the worker drains and is replaced, 0 failed requests under load", async () => {
    const { s, pid, r } = await strayUnderLoad(["--stray-errors", "retire"], ["/throw-later?ms=20"]);
    assert.deepEqual(r.failed, []);
    await waitFor(() => workerPids(s.pid).length === 1 && workerPids(s.pid)[0] !== pid, 15000, "the replacement");
    assert.ok(r.pids.has(String(pid)), "the first worker served");
    assert.match(s.stderr(), /Uncaught exception( while handling "GET \/throw-later\?ms=20")?: Error: stray throw/);
    assert.match(s.stderr(), /Autorestarting worker: uncaught exception \(stray_errors = retire\)/);
    assert.equal((await get(`${s.url}/`)).status, 200);
    assert.equal((await s.stop()).code, 0);
  });

  test("EMFILE: a worker at its open-file limit logs it once per burst, counted in the metrics", async () => {
    const app = path.join(APPS, "echo-app.mjs");
    const proc = spawn("bash", ["-c", 'ulimit -n 90 && exec "$0" "$@"', process.execPath, BUNDLE, "serve", `${app}#app`, "-w", "1", "-b", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    const socks: net.Socket[] = [];
    try {
      await waitFor(() => /Ready: 1 worker/.test(err) && /Metrics at:/.test(err), 20000, "the server");
      const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(err)![1]);
      await waitFor(() => /worker_connections \(1000\) plus the \d+ files this worker has open exceed its limit of 90 open files/.test(err), 10000, "the warning at start");
      for (let i = 0; i < 120; i++) socks.push(net.connect(port, "127.0.0.1").on("error", () => {}));
      await waitFor(() => /Too many open files \(EMFILE\)/.test(err), 10000, "the EMFILE error");
      await new Promise((r) => setTimeout(r, 2500)); // still exhausted: no second line
      assert.equal(err.match(/Too many open files/g)?.length, 1, err);
      for (const sk of socks) sk.destroy();
      await waitFor(() => /File descriptors back under the limit/.test(err), 10000, "the end of the burst");
      const m = await scrape(/Metrics at: (http:\/\/\S+)/.exec(err)![1]);
      assert.equal(m.get("prodserver_fd_exhaustion_total"), 1);
    } finally {
      for (const sk of socks) sk.destroy();
      proc.kill("SIGTERM");
      await withTimeout(new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once("exit", r))), 15000, "the server to stop");
    }
  });

  test("forwarded_allow_ips default: spoofed X-Forwarded-*/Forwarded from a public peer never reach the app; a private or loopback proxy's do (own netns)", { skip: noNetns ?? false }, () => {
    const r = spawnSync("unshare", ["-n", path.join(ROOT, "test/support/netns-forwarded.sh"), process.execPath, BUNDLE, path.join(APPS, "node-listener.mjs") + "#app"], {
      encoding: "utf8",
      timeout: 60000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out);
    const seen = (peer: string) => JSON.parse(new RegExp(`^${peer.replace(/\./g, "\\.")} (\\{.*\\})$`, "m").exec(r.stdout)?.[1] ?? "null") as { headers: Record<string, string>; raw: string[] } | null;
    const spoofed = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"];
    const pub = seen("203.0.113.7");
    assert.ok(pub, out);
    for (const h of spoofed) assert.equal(pub.headers[h], undefined, `${h} from the public peer`);
    assert.ok(!pub.raw.some((v, i) => i % 2 === 0 && spoofed.includes(v.toLowerCase())), "rawHeaders filtered too");
    assert.equal(pub.headers["x-other"], "kept");
    for (const peer of ["10.9.8.7", "127.0.0.1"]) {
      const p = seen(peer);
      assert.ok(p, out);
      assert.equal(p.headers["x-forwarded-for"], "198.51.100.1", peer);
      assert.equal(p.headers["x-forwarded-proto"], "https", peer);
    }
  });
});
