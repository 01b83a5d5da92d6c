// Recycling: max_requests (+ jitter) and max_worker_memory replace a worker gracefully, the
// replacement serving first; a crash-looping worker is restarted with exponential back-off.
import assert from "node:assert/strict";
import http from "node:http";
import { after, describe, test } from "node:test";
import { get, killAll, run, start, waitFor, workerPids, workersMatch } from "./runtime-support.js";

after(killAll);

describe("runtime recycling", { timeout: 90000 }, () => {
  test("max_requests + jitter: the worker is replaced after 5..8 requests, no request fails", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--max-requests", "5", "--max-requests-jitter", "3"], { workers: 1 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const pids = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const r = await get(`${s.url}/pid`, { agent });
      assert.equal(r.status, 200);
      pids.add(Number(r.body));
      if (pids.size >= 3) break;
      await new Promise((r) => setTimeout(r, 40));
    }
    agent.destroy();
    assert.ok(pids.size >= 2, `expected recycled workers, saw ${[...pids]}`);
    const m = /Autorestarting worker: served (\d+) requests \(max_requests 5 \+ jitter (\d+)\)/.exec(s.stderr());
    assert.ok(m, s.stderr());
    assert.equal(Number(m[1]), 5 + Number(m[2]));
    assert.ok(Number(m[2]) >= 0 && Number(m[2]) <= 3);
    assert.match(s.stderr(), /asks to be recycled .*; starting its replacement first/);
    assert.equal((await s.stop()).code, 0);
  });

  test("max_worker_memory: a worker whose RSS grows past the limit is replaced gracefully", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--max-worker-memory", "200M"], { workers: 1 });
    const [fat] = workerPids(s.pid);
    assert.match((await get(`${s.url}/grow?mb=250`)).body, /^rss \d+/);
    await waitFor(() => /Autorestarting worker: max_worker_memory \(rss \d+ > (90 % of )?209715200 bytes\)/.test(s.stderr()), 10000, "the memory recycle");
    await waitFor(() => workersMatch(s.pid, (now) => now.length === 1 && now[0] !== fat), 10000, "the replacement alone");
    assert.equal((await get(`${s.url}/readyz`)).status, 200);
    assert.doesNotMatch(s.stderr(), /Worker \(pid:\d+\) (was sent|exited)/, "the old worker exited as a retirement, not a crash");
    assert.equal((await s.stop()).code, 0);
  });

  test("a worker crashing right after boot is restarted with growing back-off", async () => {
    const s = run(["serve", "crash-after-ready.mjs#app", "-w", "1", "-b", "127.0.0.1:0"]);
    await waitFor(() => /failure 3 in a row/.test(s.stderr()), 20000, "three back-offs");
    const delays = [...s.stderr().matchAll(/Restarting the worker in ([\d.]+)s \(crash soon after boot; failure (\d+) in a row\)/g)].map((m) => Number(m[1]));
    assert.deepEqual(delays.slice(0, 3), [0.5, 1, 2]);
    assert.ok((s.stderr().match(/Booting worker/g) ?? []).length <= 5, "no tight crash loop");
    assert.equal((await s.stop()).code, 0);
  });
});
