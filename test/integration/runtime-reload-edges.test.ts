// HUP edge cases: HUPs during a reload coalesce (the newest configuration wins), a failed reload
// restores settings, listeners and hooks together, and the old generation keeps full capacity
// when part of a new generation fails to boot (no old worker retires before every new one is ready).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { get, killAll, start, waitFor, workerPids } from "./runtime-support.js";

after(killAll);

/** An app answering `version`; with `bootMs` its module takes that long to load (a slow boot). */
const appSource = (version: string, bootMs = 0) => `${bootMs ? `await new Promise((r) => setTimeout(r, ${bootMs}));\n` : ""}export const app = (req, res) => res.end(${JSON.stringify(version)});\n`;

/** Bodies of `n` requests, each on a new connection (so they spread over the workers). */
async function bodies(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await get(`${url}/`)).body);
  return out;
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-reload-edges-"));
}

describe("runtime HUP edge cases", { timeout: 90000 }, () => {
  test("a HUP during a reload is not dropped: once the reload ends, the newest configuration is loaded", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("A"));
    const s = await start(["serve", "app.mjs#app", "-w", "2", "-b", "127.0.0.1:0"], { cwd: dir, workers: 2 });
    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("B", 1500));
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => /Reloading: starting generation 1/.test(s.stderr()), 10000, "reload B to start");
    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("C"));
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => /Reload complete: generation 2 serving/.test(s.stderr()), 20000, "the second reload to complete");
    assert.match(s.stderr(), /Reload in progress; will reload again with the newest configuration once it ends/);
    assert.match(s.stderr(), /Reloading again: HUP arrived during the last reload/);
    await waitFor(() => workerPids(s.pid).length === 2, 10000, "2 workers");
    assert.deepEqual([...new Set(await bodies(s.url, 20))], ["C"]);
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a failed reload restores the previous hooks with its settings: nworkers_changed tells of both changes, the old on_exit runs at shutdown", async () => {
    const dir = tmp();
    const events = path.join(dir, "events.log");
    const note = (text: string) => `fs.appendFileSync(${JSON.stringify(events)}, ${text} + "\\n")`;
    const config = (tag: string, workers: number) =>
      `import fs from "node:fs";\nexport default { workers: ${workers} };\nexport function on_exit() { ${note(`"on_exit ${tag}"`)}; }\nexport function nworkers_changed(server, n, old) { ${note(`"nworkers_changed " + n + " " + old + " ${tag}"`)}; }\n`;
    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("A"));
    fs.writeFileSync(path.join(dir, "ps.mjs"), config("A", 2));
    const s = await start(["serve", "app.mjs#app", "-c", "ps.mjs", "-b", "127.0.0.1:0"], { cwd: dir, workers: 2 });
    const serving = workerPids(s.pid);
    fs.writeFileSync(path.join(dir, "app.mjs"), 'throw new Error("B cannot boot");\n');
    fs.writeFileSync(path.join(dir, "ps.mjs"), config("B", 3));
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => /Reload failed, keeping generation 0 serving/.test(s.stderr()), 15000, "the rollback");
    await waitFor(() => workerPids(s.pid).length === 2, 10000, "the failed generation gone");
    assert.deepEqual(workerPids(s.pid), serving, s.stderr());
    assert.equal((await s.stop()).code, 0);
    // Gunicorn's nworkers_changed(server, new, old): B asked for 3, the rollback brought back 2.
    assert.equal(fs.readFileSync(events, "utf8"), "nworkers_changed 2 null A\nnworkers_changed 3 2 B\nnworkers_changed 2 3 A\non_exit A\n");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("when one new worker boots and its sibling fails, the old generation keeps all its workers", async () => {
    const dir = tmp();
    const marker = path.join(dir, "first-boot");
    fs.writeFileSync(path.join(dir, "app.mjs"), appSource("A"));
    const s = await start(["serve", "app.mjs#app", "-w", "2", "-b", "127.0.0.1:0"], { cwd: dir, workers: 2 });
    const serving = workerPids(s.pid);
    // B: the first worker to load it boots (after a pause, so the arbiter sees it ready first); any other fails.
    fs.writeFileSync(
      path.join(dir, "app.mjs"),
      `import fs from "node:fs";\ntry { fs.writeFileSync(${JSON.stringify(marker)}, "x", { flag: "wx" }); } catch { await new Promise((r) => setTimeout(r, 800)); throw new Error("only one B worker may boot"); }\nexport const app = (req, res) => res.end("B");\n`,
    );
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => /Reload failed, keeping generation 0 serving: App failed to load/.test(s.stderr()), 15000, "the rollback");
    await waitFor(() => workerPids(s.pid).length === 2, 10000, "the failed generation gone");
    assert.deepEqual(workerPids(s.pid), serving, `both old workers still serve\n${s.stderr()}`);
    assert.deepEqual([...new Set(await bodies(s.url, 20))], ["A"], s.stderr());
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
