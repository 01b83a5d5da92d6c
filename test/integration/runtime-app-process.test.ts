// The app's process as a worker runs it:
// - a preload in NODE_OPTIONS (`--import`, as OpenTelemetry's register is installed) must not change
//   how a program app loads: with one, node's Module.runMain runs a CommonJS main through the ESM
//   loader and returns before the module ran, so a program that exports its handler (express-
//   generator's app.js) was never seen to export one and the worker waited for a listen() that
//   never came. The preload's own effect reaches the app (it runs in every worker);
// - the worker's process title stays the runtime's when the app names its process (Next.js's
//   `next start` sets `next-server (vX)`), so ps and the image's smoke test still see its workers.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { get, killAll, start, title, workerPids } from "./runtime-support.js";

after(killAll);

test("a CommonJS program exporting its handler boots under NODE_OPTIONS=--import, with require.main === module", { timeout: 60000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-node-options-"));
  fs.writeFileSync(path.join(dir, "preload.mjs"), "globalThis.preloaded = 'yes';\n");
  fs.writeFileSync(path.join(dir, "app.js"), "const main = require.main === module;\nmodule.exports = (req, res) => res.end(`main=${main} preloaded=${globalThis.preloaded}`);\n");
  const s = await start(["serve", "app.js", "-b", "127.0.0.1:0", "--workers", "1", "--timeout", "10"], { cwd: dir, env: { NODE_OPTIONS: `--import=${path.join(dir, "preload.mjs")}` } });
  assert.equal((await get(`${s.url}/`)).body, "main=true preloaded=yes");
  assert.equal((await s.stop()).code, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a listen-mode app that sets process.title keeps the worker's title", { timeout: 60000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-title-"));
  fs.writeFileSync(path.join(dir, "server.js"), "process.title = 'my-server';\nrequire('node:http').createServer((req, res) => res.end(process.title)).listen(process.env.PORT);\n");
  const s = await start(["serve", "server.js", "-b", "127.0.0.1:0", "--workers", "2", "--name", "titled"], { cwd: dir, workers: 2 });
  assert.equal((await get(`${s.url}/`)).body, "prodserver: worker [titled]");
  const pids = workerPids(s.pid);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.equal(title(pid), "prodserver: worker [titled]");
  assert.equal((await s.stop()).code, 0);
  fs.rmSync(dir, { recursive: true, force: true });
});
