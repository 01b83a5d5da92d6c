// max_worker_memory overshoot (issue 11 item 4): every request leaks 5 MiB (bench/apps/stuck.mjs
// /leak); with --max-worker-memory 150M, how high does a worker's RSS get before it is replaced?
//
//   node bench/memory-overshoot.mjs [BUNDLE=dist/prodserver-runtime.mjs] [RATE=50] [SECONDS=15]
//
// Runs `prodserver serve stuck.mjs --workers 2 --max-worker-memory 150M` on 127.0.0.1:18398, sends
// RATE requests per second (fresh connections) for SECONDS, samples every worker's RSS every 20 ms
// (/proc), and prints the peak RSS of any worker, the recycles seen and the failed requests.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const [bundleArg = path.join(root, "dist/prodserver-runtime.mjs"), rate = "50", seconds = "15"] = process.argv.slice(2);
const PORT = 18398;
const LIMIT_MIB = 150;

const srv = spawn(process.execPath, [path.resolve(bundleArg), "serve", "stuck.mjs", "--bind", `127.0.0.1:${PORT}`, "--workers", "2", "--max-worker-memory", `${LIMIT_MIB}M`], {
  cwd: path.join(root, "bench/apps"),
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
srv.stderr.on("data", (d) => (log += d));
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const status = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return "";
  }
};
// The workers' pids, found every 250 ms (a scan of /proc is too heavy for every sample).
let pids = [];
const findWorkers = () => (pids = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d) && Number(/^PPid:\s+(\d+)/m.exec(status(d))?.[1]) === srv.pid));
const workers = () => pids.map((p) => Number(/^VmRSS:\s+(\d+)/m.exec(status(p))?.[1] ?? 0) / 1024);
try {
  for (let i = 0; i < 300 && !/Ready: 2 worker/.test(log); i++) await wait(50);
  let peak = 0;
  findWorkers();
  const finder = setInterval(findWorkers, 250);
  const sampler = setInterval(() => (peak = Math.max(peak, ...workers(), 0)), 20);
  let sent = 0;
  let failed = 0;
  const reasons = {};
  const until = Date.now() + Number(seconds) * 1000;
  const inflight = new Set();
  while (Date.now() < until) {
    const p = new Promise((resolve) => {
      const r = http.get({ host: "127.0.0.1", port: PORT, path: "/leak?mb=5", agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200 || failed++));
      });
      let timedOut = false;
      r.setTimeout(10000, () => ((timedOut = true), r.destroy()));
      r.on("error", (e) => {
        const why = timedOut ? "no answer within 10 s" : (e.code ?? e.message);
        reasons[why] = (reasons[why] ?? 0) + 1;
        resolve(failed++);
      });
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
    sent++;
    await wait(1000 / Number(rate));
  }
  await Promise.all(inflight);
  clearInterval(sampler);
  clearInterval(finder);
  const recycles = (log.match(/Autorestarting worker: max_worker_memory/g) ?? []).length;
  console.log(
    `${path.basename(path.dirname(path.dirname(path.resolve(bundleArg))))}: ${rate} req/s x 5 MiB for ${seconds} s, limit ${LIMIT_MIB} MiB: peak worker RSS ${peak.toFixed(0)} MiB (${(peak / LIMIT_MIB).toFixed(2)}x the limit), ${recycles} recycles, ${failed} of ${sent} requests failed${failed ? " " + JSON.stringify(reasons) : ""}`,
  );
} finally {
  srv.kill("SIGTERM");
  for (let i = 0; i < 200 && srv.exitCode === null; i++) await wait(50);
}
