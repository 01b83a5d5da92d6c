// Run the compiled test suites with node's test runner: `node test/run.mjs [unit|integration|e2e]...`.
// unit and integration run with file-level concurrency; e2e (real Docker Engine) runs one file at a time.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const all = ["unit", "integration", "e2e"];
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : all;
let failed = false;
for (const suite of wanted) {
  if (!all.includes(suite)) {
    console.error(`unknown suite ${suite}; expected one of ${all.join(", ")}`);
    process.exit(2);
  }
  const dir = `dist/test/${suite}`;
  if (!existsSync(dir)) continue;
  console.log(`\n# suite: ${suite}`);
  // --test-force-exit: a test file whose tests all finished but left a handle open (a socket of a
  // failed test) must not hold the whole run forever.
  const args = ["--test", "--test-force-exit", `--test-concurrency=${suite === "e2e" ? 1 : 2}`, dir];
  const r = spawnSync(process.execPath, args, { stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
