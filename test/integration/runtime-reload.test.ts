// HUP: reload settings and app code with zero failed requests under keep-alive load; a new
// version that cannot boot leaves the old workers serving.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { get, killAll, load, start, waitFor, workerPids } from "./runtime-support.js";

after(killAll);

const appSource = (version: string) => `export const app = (req, res) => {
  if (req.url === "/slow") return void setTimeout(() => res.end("${version} slow"), 400);
  res.end("${version}");
};\n`;

describe("runtime HUP reload", { timeout: 90000 }, () => {
  test("new code and settings, old workers retired as new ones are ready, zero failed requests", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-reload-"));
    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("v1"));
    fs.writeFileSync(path.join(dir, "ps.json"), JSON.stringify({ workers: 2, keepalive: 5, graceful_timeout: 10 }));
    const s = await start(["serve", "app.mjs#app", "-c", "ps.json", "-b", "127.0.0.1:0"], { cwd: dir, workers: 2 });
    const old = workerPids(s.pid);
    const l = load(s.url, 6);
    await waitFor(() => l.total() > 50, 10000, "load to run");

    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("v2"));
    fs.writeFileSync(path.join(dir, "ps.json"), JSON.stringify({ workers: 3, keepalive: 5, graceful_timeout: 10 }));
    process.kill(s.pid, "SIGHUP");
    await waitFor(
      () => {
        const now = workerPids(s.pid);
        return now.length === 3 && now.every((p) => !old.includes(p));
      },
      20000,
      "3 new workers and the old ones gone",
    );
    const before = l.bodies.get("v2") ?? 0;
    await waitFor(() => (l.bodies.get("v2") ?? 0) > before + 50, 10000, "load on the new generation");
    await l.stop();
    assert.deepEqual(l.errors, [], `failed requests during reload (${l.total()} total)`);
    assert.ok((l.bodies.get("v1") ?? 0) > 0 && (l.bodies.get("v2") ?? 0) > 0, JSON.stringify([...l.bodies]));
    assert.match(s.stderr(), /Reloading: starting generation 1 \(3 workers\)/);
    assert.match(s.stderr(), /Reload complete: generation 1 serving/);
    assert.equal(new URL(s.url).port, /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(s.stderr())![1], "same socket");

    // A version that cannot boot: the reload is rolled back, v2 keeps serving, nothing fails.
    const serving = workerPids(s.pid);
    fs.writeFileSync(path.join(dir, "app.mjs"), 'throw new Error("v3 is broken");\n');
    const l2 = load(s.url, 4);
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => /Reload failed, keeping generation 1 serving: App failed to load/.test(s.stderr()), 15000, "the rollback");
    await waitFor(() => workerPids(s.pid).length === 3, 10000, "the failed generation gone");
    await new Promise((r) => setTimeout(r, 300));
    await l2.stop();
    assert.deepEqual(workerPids(s.pid), serving, "the old workers still serve");
    assert.deepEqual(l2.errors, []);
    assert.deepEqual([...l2.bodies.keys()].sort(), ["v2", "v2 slow"]);
    assert.match(s.stderr(), /v3 is broken/);
    assert.equal((await get(`${s.url}/`)).body, "v2");

    // An invalid configuration on HUP is refused and logged; nothing changes.
    fs.writeFileSync(path.join(dir, "ps.json"), JSON.stringify({ workers: -1 }));
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => /Reload aborted, the configuration is invalid: workers \(from \S+ps\.json\)/.test(s.stderr()), 10000, "refused config");
    assert.deepEqual(workerPids(s.pid), serving);
    assert.equal((await s.stop("SIGTERM")).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
