// `timeout`: a worker whose event loop is blocked longer than `timeout` gets its JavaScript stack
// logged (from the watchdog thread through the inspector), is killed with its process group and
// replaced. Also when it cannot answer at all (SIGSTOP), and when it is blocked in a child process
// (execSync), whose child must not be left running. `--timeout 3`: long enough that a healthy
// worker on a loaded CI machine keeps its heartbeat (at 1 s it did not, and was killed).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { alive, get, groupPids, killAll, start, waitFor, workerPids, type Server } from "./runtime-support.js";

after(killAll);

const TIMEOUT = 3;

/** Wait for the `n`-th WORKER TIMEOUT line and return its pid and the text after it. */
async function nthTimeout(s: Server, n: number): Promise<{ pid: number; text: string }> {
  await waitFor(() => (s.stderr().match(/WORKER TIMEOUT \(pid:\d+\)/g) ?? []).length >= n, 20000, `WORKER TIMEOUT #${n}`);
  const parts = s
    .stderr()
    .split(/(?=\[[^\]]+\] \[\d+\] \[CRITICAL\] WORKER TIMEOUT)/)
    .filter((p) => p.includes("WORKER TIMEOUT"));
  const text = parts[n - 1];
  return { pid: Number(/WORKER TIMEOUT \(pid:(\d+)\)/.exec(text)![1]), text };
}

/** Wait until `victim` is gone and two workers serve again. */
async function replaced(s: Server, victim: number): Promise<void> {
  await waitFor(() => !alive(victim) && workerPids(s.pid).length === 2 && !workerPids(s.pid).includes(victim), 20000, `a replacement for ${victim}`);
  await waitFor(async () => (await get(`${s.url}/readyz`).catch(() => null))?.status === 200, 10000, "readyz");
}

describe("runtime timeout", { timeout: 120000 }, () => {
  test("blocked in JavaScript, stopped, or blocked in a child: killed (with the child) and replaced; the others keep serving", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0", "--timeout", String(TIMEOUT)], { workers: 2 });

    // 1. A hot loop: the stack and the request are logged.
    const before = workerPids(s.pid);
    const stuck = get(`${s.url}/block?ms=60000`, { timeoutMs: 30000 }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    const first = await nthTimeout(s, 1);
    assert.ok(before.includes(first.pid));
    assert.match(first.text, /WORKER TIMEOUT \(pid:\d+\): no heartbeat for [\d.]+s while handling "GET \/block\?ms=60000"; killing it and its process group/);
    assert.match(first.text, /JavaScript stack of the blocked event loop:\n {4}at app \(file:\/\/\S+\/node-listener\.mjs:\d+:\d+\)/);
    assert.notEqual(await stuck, "answered", "the stuck request dies with its worker");
    await replaced(s, first.pid);
    // A slow but not blocking request is not a timeout: the heartbeat comes from the event loop.
    assert.match((await get(`${s.url}/slow?ms=${TIMEOUT * 1000 + 1000}`)).body, /^slow done/);

    // 2. A stopped worker cannot answer the stack request: killed all the same.
    const [stopped] = workerPids(s.pid);
    process.kill(stopped, "SIGSTOP");
    const second = await nthTimeout(s, 2);
    assert.equal(second.pid, stopped);
    assert.match(second.text, /\(no JavaScript stack: [^)]*\)/);
    await replaced(s, stopped);

    // 3. Blocked in execSync("sleep 60"): the worker and its sleep are killed.
    const pending = get(`${s.url}/exec-sleep?s=60`, { timeoutMs: 30000 }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    let sleeper = 0;
    let parent = 0;
    await waitFor(
      () => {
        for (const w of workerPids(s.pid)) {
          const sleeps = groupPids(w, "sleep"); // under execSync's /bin/sh, in the worker's process group
          if (sleeps.length) [sleeper, parent] = [sleeps[0], w];
        }
        return sleeper > 0;
      },
      10000,
      "the worker's sleep child",
    );
    const third = await nthTimeout(s, 3);
    assert.equal(third.pid, parent);
    assert.notEqual(await pending, "answered");
    await replaced(s, parent);
    await waitFor(() => !alive(sleeper), 5000, `the sleep child ${sleeper} to be gone with its worker`);

    assert.equal((s.stderr().match(/WORKER TIMEOUT/g) ?? []).length, 3, "no other worker timed out");
    assert.equal((await s.stop()).code, 0);
  });
});
