// `timeout`: a worker whose event loop is blocked longer than `timeout` gets its JavaScript stack
// logged (from the watchdog thread through the inspector), is killed and replaced.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { get, killAll, start, waitFor, workerPids } from "./runtime-support.js";

after(killAll);

describe("runtime timeout", { timeout: 60000 }, () => {
  test("a blocked worker: stack logged, killed, replaced; the others keep serving", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0", "--timeout", "1"], { workers: 2 });
    const before = workerPids(s.pid);
    const stuck = get(`${s.url}/block?ms=30000`, { timeoutMs: 20000 }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    await waitFor(() => /WORKER TIMEOUT \(pid:\d+\)/.test(s.stderr()), 10000, "WORKER TIMEOUT");
    const victim = Number(/WORKER TIMEOUT \(pid:(\d+)\)/.exec(s.stderr())![1]);
    assert.ok(before.includes(victim));
    assert.match(s.stderr(), /WORKER TIMEOUT \(pid:\d+\): no heartbeat for [\d.]+s while handling "GET \/block\?ms=30000"; killing it/);
    assert.match(s.stderr(), /JavaScript stack of the blocked event loop:\n {4}at app \(file:\/\/\S+\/node-listener\.mjs:\d+:\d+\)/);
    assert.notEqual(await stuck, "answered", "the stuck request dies with its worker");
    await waitFor(() => {
      const now = workerPids(s.pid);
      return now.length === 2 && !now.includes(victim);
    }, 10000, "a replacement");
    assert.equal((await get(`${s.url}/readyz`)).status, 200);
    // A slow but not blocking request is not a timeout: the heartbeat comes from the event loop.
    assert.match((await get(`${s.url}/slow?ms=2500`)).body, /^slow done/);
    assert.equal((s.stderr().match(/WORKER TIMEOUT/g) ?? []).length, 1);
    assert.equal((await s.stop()).code, 0);
  });
});
