// Stray errors under load (issue 11 item 2): one worker serves 8 loops of fresh-connection GETs
// for SECONDS; after 1 s one request makes the app throw in a timer, after 2 s another makes a
// promise reject with nobody handling it. Prints the requests that failed, which worker pids
// answered, and the error-log lines about the stray errors.
//
//   node bench/stray-errors.mjs [BUNDLE=dist/prodserver-runtime.mjs] [SECONDS=5] [-- extra serve flags]
import { spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const argv = process.argv.slice(2);
const extra = argv.includes("--") ? argv.splice(argv.indexOf("--")).slice(1) : [];
const [bundleArg = path.join(root, "dist/prodserver-runtime.mjs"), seconds = "5"] = argv;
const PORT = 18395;
const srv = spawn(process.execPath, [path.resolve(bundleArg), "serve", "stuck.mjs", "--bind", `127.0.0.1:${PORT}`, "--workers", "1", ...extra], {
  cwd: path.join(root, "bench/apps"),
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
srv.stderr.on("data", (d) => (log += d));
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const get = (p) =>
  new Promise((resolve) => {
    const r = http.get({ host: "127.0.0.1", port: PORT, path: p, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200 ? null : `status ${res.statusCode}`));
    });
    r.setTimeout(10000, () => r.destroy(new Error("no answer within 10 s")));
    r.on("error", (e) => resolve(e.code ?? e.message));
  });
try {
  for (let i = 0; i < 300 && !/Ready: 1 worker/.test(log); i++) await wait(50);
  const until = Date.now() + Number(seconds) * 1000;
  const failed = {};
  let ok = 0;
  const loops = Array.from({ length: 8 }, async () => {
    while (Date.now() < until) {
      const why = await get("/");
      if (why) failed[why] = (failed[why] ?? 0) + 1;
      else ok++;
    }
  });
  await wait(1000);
  await get("/throw-later");
  await wait(1000);
  await get("/reject-later");
  await Promise.all(loops);
  const lines = log.split("\n").filter((l) => /stray|Uncaught|Unhandled|exited|Booting worker/.test(l));
  const nFailed = Object.values(failed).reduce((a, b) => a + b, 0);
  console.log(`${path.basename(path.dirname(path.dirname(path.resolve(bundleArg))))} ${extra.join(" ")}: ${ok} requests answered, ${nFailed} failed ${nFailed ? JSON.stringify(failed) : ""}`);
  for (const l of lines) console.log(`  ${l.slice(0, 160)}`);
} finally {
  srv.kill("SIGTERM");
  for (let i = 0; i < 200 && srv.exitCode === null; i++) await wait(50);
}
