// How soon after a worker stops answering `timeout` kills it (issue 11 item 3): a worker stopped
// with SIGSTOP, and one blocked in execSync("sleep 30") (whose `sleep` must die with it).
//
//   node bench/timeout-kill.mjs [BUNDLE=dist/prodserver-runtime.mjs] [TIMEOUT=3] [RUNS=3]
//
// Starts `prodserver serve bench/apps/stuck.mjs --workers 2 --timeout TIMEOUT` on 127.0.0.1:18399,
// and for each run and case prints the seconds from the stall to the worker's exit, and whether
// the `sleep` outlived it; then the medians. Stops everything it started.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const [bundleArg = path.join(root, "dist/prodserver-runtime.mjs"), timeout = "3", runs = "3"] = process.argv.slice(2);
const bundle = path.resolve(bundleArg);
const PORT = 18399;

function stat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}
const alive = (pid) => {
  const f = stat(pid);
  return f !== null && f[0] !== "Z";
};
function pids(pred) {
  return fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      const f = stat(p);
      return f && f[0] !== "Z" && pred(p, f);
    });
}
const cmd = (p) => {
  try {
    return fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
  } catch {
    return "";
  }
};
const workers = (arb) => pids((p, f) => Number(f[1]) === arb && cmd(p).startsWith("prodserver: worker"));
const sleeps = () => pids((p) => cmd(p).startsWith("sleep\0" + "30"));
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await wait(5);
  }
  return false;
}
const get = (p) =>
  new Promise((resolve) => {
    const r = http.get({ host: "127.0.0.1", port: PORT, path: p, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    r.on("error", () => resolve(0));
  });

const srv = spawn(process.execPath, [bundle, "serve", "stuck.mjs", "--bind", `127.0.0.1:${PORT}`, "--workers", "2", "--timeout", timeout], {
  cwd: path.join(root, "bench/apps"),
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
srv.stderr.on("data", (d) => (log += d));
const results = { sigstop: [], execSync: [] };
try {
  if (!(await until(async () => /Ready: 2 worker/.test(log), 30000))) throw new Error(`server did not start:\n${log}`);
  for (let i = 0; i < Number(runs); i++) {
    await until(() => workers(srv.pid).length === 2, 30000);
    await wait(1500); // heartbeats flowing
    const [w] = workers(srv.pid);
    const t0 = Date.now();
    process.kill(w, "SIGSTOP");
    await until(() => !alive(w), 30000);
    results.sigstop.push((Date.now() - t0) / 1000);

    await until(() => workers(srv.pid).length === 2, 30000);
    await wait(1500);
    void get("/exec-sleep?s=30");
    await until(() => sleeps().length > 0, 10000);
    const t1 = Date.now();
    const [sl] = sleeps();
    const ancestors = (p) => {
      const out = [];
      for (let q = p; q > 1; q = Number(stat(q)?.[1] ?? 0)) out.push(q);
      return out;
    };
    const owner = workers(srv.pid).find((p) => ancestors(sl).includes(p));
    await until(() => owner !== undefined && !alive(owner), 30000);
    const killedAt = (Date.now() - t1) / 1000;
    await wait(200);
    const orphan = alive(sl);
    if (orphan) process.kill(sl, "SIGKILL");
    results.execSync.push(killedAt);
    console.log(`run ${i + 1}: SIGSTOP killed after ${results.sigstop.at(-1).toFixed(2)} s; execSync killed after ${killedAt.toFixed(2)} s, sleep ${orphan ? "LEFT ORPHANED" : "killed with it"}`);
  }
} finally {
  srv.kill("SIGTERM");
  await until(() => srv.exitCode !== null, 10000);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
console.log(
  `timeout ${timeout} s, ${runs} runs: SIGSTOP median ${median(results.sigstop).toFixed(2)} s (max ${Math.max(...results.sigstop).toFixed(2)}), execSync median ${median(results.execSync).toFixed(2)} s (max ${Math.max(...results.execSync).toFixed(2)})`,
);
