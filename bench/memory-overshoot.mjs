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

const srv = spawn(process.execPath, [path.resolve(bundleArg), "serve", "stuck.mjs", "--bind", `127.0.0.1:${PORT}`, "--workers", "2", "--max-worker-memory", `${LIMIT_MIB}M`], { cwd: path.join(root, "bench/apps"), stdio: ["ignore", "ignore", "pipe"] });
let log = "";
srv.stderr.on("data", (d) => (log += d));
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const workers = () =>
  fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const st = fs.readFileSync(`/proc/${d}/status`, "utf8");
      return Number(/^PPid:\s+(\d+)/m.exec(st)?.[1]) === srv.pid ? [Number(/^VmRSS:\s+(\d+)/m.exec(st)?.[1] ?? 0) / 1024] : [];
    } catch {
      return [];
    }
  });
try {
  for (let i = 0; i < 300 && !/Ready: 2 worker/.test(log); i++) await wait(50);
  let peak = 0;
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
      r.setTimeout(10000, () => r.destroy());
      r.on("error", (e) => { reasons[e.code ?? e.message] = (reasons[e.code ?? e.message] ?? 0) + 1; resolve(failed++); });
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
    sent++;
    await wait(1000 / Number(rate));
  }
  await Promise.all(inflight);
  clearInterval(sampler);
  const recycles = (log.match(/Autorestarting worker: max_worker_memory/g) ?? []).length;
  console.log(`${path.basename(path.dirname(path.dirname(path.resolve(bundleArg))))}: ${rate} req/s x 5 MiB for ${seconds} s, limit ${LIMIT_MIB} MiB: peak worker RSS ${peak.toFixed(0)} MiB (${(peak / LIMIT_MIB).toFixed(2)}x the limit), ${recycles} recycles, ${failed} of ${sent} requests failed${failed ? " " + JSON.stringify(reasons) : ""}`);
} finally {
  srv.kill("SIGTERM");
  for (let i = 0; i < 200 && srv.exitCode === null; i++) await wait(50);
}
