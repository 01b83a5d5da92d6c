// Run the compiled test suites with node's test runner: `node test/run.mjs [unit|integration|e2e]...`.
// unit and integration run with file-level concurrency; e2e (real Docker Engine) runs one file at a time.
// Before e2e, one npm registry on loopback is started for the whole suite (test/support/registry.ts:
// verdaccio with this repo's two packages published) and handed to every file in
// PRODSERVER_TEST_REGISTRY, so files do not each start and publish their own.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const all = ["unit", "integration", "e2e"];
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : all;

/** Start the shared registry; resolves to { env, stop } (env empty when it could not start: files then start their own). */
async function startRegistry() {
  const child = spawn(process.execPath, ["dist/test/support/registry.js"], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", (l) => resolve(l));
    child.once("exit", () => resolve(null));
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  if (!line) {
    console.error("# test registry did not start; e2e files start their own");
    return { env: {}, stop };
  }
  console.log(`# test registry ${JSON.parse(line).url}`);
  return { env: { PRODSERVER_TEST_REGISTRY: line }, stop };
}

let failed = false;
for (const suite of wanted) {
  if (!all.includes(suite)) {
    console.error(`unknown suite ${suite}; expected one of ${all.join(", ")}`);
    process.exit(2);
  }
  const dir = `dist/test/${suite}`;
  if (!existsSync(dir)) continue;
  console.log(`\n# suite: ${suite}`);
  const registry = suite === "e2e" ? await startRegistry() : { env: {}, stop: async () => {} };
  // Offline builds fill package caches per lockfile; this run's go with it.
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), "prodserver-test-cache-"));
  // --test-force-exit: a test file whose tests all finished but left a handle open (a socket of a
  // failed test) must not hold the whole run forever.
  const args = ["--test", "--test-force-exit", `--test-concurrency=${suite === "e2e" ? 1 : 2}`, dir];
  const r = spawnSync(process.execPath, args, { stdio: "inherit", env: { PRODSERVER_CACHE_DIR: cacheDir, ...process.env, ...registry.env } });
  await registry.stop();
  rmSync(cacheDir, { recursive: true, force: true });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
