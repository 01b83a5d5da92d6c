// preload_app: the arbiter imports the app before forking; a broken app stops start-up (4) before any worker.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { get, killAll, run, start, withTimeout, workerPids } from "./runtime-support.js";

after(killAll);

describe("preload_app", { timeout: 60000 }, () => {
  test("--preload with an app that throws at import: exit 4 with the app's error and no worker booted", async () => {
    const s = run(["serve", "throws-at-import.mjs#app", "-b", "127.0.0.1:0", "--preload"]);
    assert.equal((await withTimeout(s.exited, 15000, "exit")).code, 4);
    assert.match(s.stderr(), /App failed to load \(preload_app\)/);
    assert.match(s.stderr(), /throws-at-import\.mjs/);
    assert.match(s.stderr(), /fixture: database URL missing/);
    assert.doesNotMatch(s.stderr(), /Booting worker/);
  });

  test("--preload with a good app serves from the workers", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "-w", "2", "--preload"], { workers: 2 });
    assert.ok(workerPids(s.pid).includes(Number((await get(`${s.url}/pid`)).body)));
    assert.equal((await s.stop()).code, 0);
  });
});
