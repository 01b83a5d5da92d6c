// Seconds between `prodserver build`'s smoke-report result line (`PASS: ...`/`FAIL: ...`, or the
// `--quiet` line, or the JSON `smoke` record) and the process's exit: nothing is left to do then,
// so anything above a few hundredths is a handle kept open (a timer, a socket, a stream).
// Usage, in an app folder that has a description:
//   node <repo>/bench/exit-after-report.mjs [build flags...]      e.g. --offline
import { spawn } from "node:child_process";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const t0 = performance.now();
const child = spawn(process.execPath, [cli, "build", ...process.argv.slice(2)], { stdio: ["ignore", "pipe", "inherit"] });
let reportAt = null;
readline.createInterface({ input: child.stdout }).on("line", (line) => {
  if (reportAt === null && /(^|; smoke test )(PASS|FAIL): |^\{"type":"smoke"/.test(line)) reportAt = performance.now();
  process.stdout.write(`${((performance.now() - t0) / 1000).toFixed(2).padStart(7)}  ${line}\n`);
});
child.on("exit", (code) => {
  const s = (ms) => (ms / 1000).toFixed(2);
  const now = performance.now();
  console.log(`exit ${code} at ${s(now - t0)} s; report -> exit: ${reportAt === null ? "no report line" : `${s(now - reportAt)} s`}`);
});
