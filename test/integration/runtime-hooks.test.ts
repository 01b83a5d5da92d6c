// Server hooks exported by an .mjs config file, called in the arbiter and in the workers.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { APPS, get, killAll, run, start, waitFor, withTimeout, workerPids, workersMatch } from "./runtime-support.js";

after(killAll);

const CONFIG = (events: string) => `import fs from "node:fs";
const note = (line) => fs.appendFileSync(${JSON.stringify(events)}, line + "\\n");
export default { workers: 2, app: ${JSON.stringify(path.join(APPS, "node-listener.mjs"))} + "#app" };
export function on_starting(server) { note("on_starting " + server.pid); }
export function when_ready(server) { note("when_ready workers=" + server.workers().length); }
export function nworkers_changed(server, n, old) { note("nworkers_changed " + n + " " + old); }
export async function post_worker_init(worker) { await new Promise((r) => setTimeout(r, 10)); note("post_worker_init " + worker.pid); }
export function pre_request(worker, req) { note("pre_request " + req.url); }
export function post_request(worker, req, res) { note("post_request " + req.url + " " + res.statusCode); }
export function on_reload(server) { note("on_reload gen"); }
export function child_exit(server, worker) { note("child_exit " + worker.pid); }
export function worker_exit(worker) { note("worker_exit " + worker.pid); }
export function on_exit(server) { note("on_exit"); }
`;

describe("runtime server hooks", { timeout: 60000 }, () => {
  test("arbiter and worker hooks run at their moments with server/worker views", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-hooks-"));
    const events = path.join(dir, "events.log");
    fs.writeFileSync(path.join(dir, "ps.mjs"), CONFIG(events));
    const s = await start(["serve", "-c", "ps.mjs", "-b", "127.0.0.1:0"], { cwd: dir, workers: 2 });
    const lines = () => fs.readFileSync(events, "utf8").trim().split("\n");
    const first = workerPids(s.pid);
    await waitFor(() => lines().filter((l) => l.startsWith("post_worker_init")).length === 2, 10000, "post_worker_init x2");
    assert.deepEqual(lines().slice(0, 3), [`on_starting ${s.pid}`, "when_ready workers=0", "nworkers_changed 2 null"]);
    assert.deepEqual(
      lines()
        .filter((l) => l.startsWith("post_worker_init"))
        .map((l) => Number(l.split(" ")[1]))
        .sort(),
      first,
    );
    await get(`${s.url}/hooked`);
    await waitFor(() => lines().includes("post_request /hooked 200"), 5000, "post_request");
    assert.ok(lines().includes("pre_request /hooked"));
    assert.ok(!lines().some((l) => l.includes("/readyz")), "health requests do not run request hooks");
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => workersMatch(s.pid, (now) => now.length === 2 && now.every((p) => !first.includes(p))), 15000, "reloaded workers");
    await waitFor(() => first.every((p) => lines().includes(`child_exit ${p}`) && lines().includes(`worker_exit ${p}`)), 10000, "child_exit/worker_exit for the old workers");
    assert.ok(lines().includes("on_reload gen"));
    assert.equal((await s.stop()).code, 0);
    assert.equal(lines().at(-1), "on_exit");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a bad hook export is a configuration error naming it; a failing post_worker_init is a boot failure (3)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-hooks-bad-"));
    fs.writeFileSync(path.join(dir, "typo.mjs"), "export function when_redy(server) {}\n");
    const typo = run(["serve", "x.mjs", "-c", "typo.mjs"], { cwd: dir });
    assert.equal((await withTimeout(typo.exited, 10000, "exit")).code, 1);
    assert.match(typo.stderr(), /when_redy \(from \S+typo\.mjs\): unknown export/);
    fs.writeFileSync(path.join(dir, "arity.mjs"), "export function pre_request(a, b, c) {}\n");
    const arity = run(["serve", "x.mjs", "-c", "arity.mjs"], { cwd: dir });
    assert.equal((await withTimeout(arity.exited, 10000, "exit")).code, 1);
    assert.match(arity.stderr(), /pre_request \(from \S+arity\.mjs\): takes at most 2 argument\(s\), declares 3/);
    fs.writeFileSync(path.join(dir, "init.mjs"), 'export function post_worker_init() { throw new Error("cache warmup failed"); }\n');
    const init = run(["serve", path.join(APPS, "fetch-fn.mjs"), "-c", "init.mjs", "-b", "127.0.0.1:0"], { cwd: dir });
    assert.equal((await withTimeout(init.exited, 15000, "exit")).code, 3);
    assert.match(init.stderr(), /Worker failed to boot \(worker \d+\): post_worker_init hook failed: cache warmup failed/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("pre_fork runs in the arbiter before each fork, post_fork in the worker before the app, worker_int on SIGQUIT/SIGINT", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-hooks-fork-"));
    const events = path.join(dir, "events.log");
    fs.writeFileSync(
      path.join(dir, "app.mjs"),
      `import fs from "node:fs";\nfs.appendFileSync(${JSON.stringify(events)}, "app_import " + process.pid + "\\n");\nexport function app(req, res) { res.end("ok"); }\n`,
    );
    fs.writeFileSync(
      path.join(dir, "ps.mjs"),
      `import fs from "node:fs";
const note = (line) => fs.appendFileSync(${JSON.stringify(events)}, line + "\\n");
export default { workers: 2, app: "app.mjs#app" };
export function pre_fork(server, worker) { note("pre_fork " + process.pid + " age=" + worker.age + " server=" + server.pid); }
export function post_fork(server, worker) { note("post_fork " + process.pid + " " + worker.pid + " server=" + server.pid); }
export async function worker_int(worker) { await new Promise((r) => setTimeout(r, 10)); note("worker_int " + worker.pid); }
`,
    );
    const s = await start(["serve", "-c", "ps.mjs", "-b", "127.0.0.1:0"], { cwd: dir, workers: 2 });
    const lines = () => fs.readFileSync(events, "utf8").trim().split("\n");
    const pids = workerPids(s.pid);
    await waitFor(() => lines().filter((l) => l.startsWith("app_import")).length === 2, 10000, "two app imports");
    assert.deepEqual(
      lines().filter((l) => l.startsWith("pre_fork")),
      [`pre_fork ${s.pid} age=1 server=${s.pid}`, `pre_fork ${s.pid} age=2 server=${s.pid}`],
    );
    for (const pid of pids) {
      const i = lines().indexOf(`post_fork ${pid} ${pid} server=${s.pid}`);
      assert.ok(i >= 0, `post_fork in worker ${pid}`);
      assert.ok(i < lines().indexOf(`app_import ${pid}`), "post_fork runs before the app is imported");
    }
    process.kill(pids[0], "SIGQUIT");
    await waitFor(() => lines().includes(`worker_int ${pids[0]}`), 10000, "worker_int after SIGQUIT");
    await waitFor(() => workersMatch(s.pid, (now) => now.length === 2 && !now.includes(pids[0])), 15000, "replacement worker");
    assert.ok(
      lines().some((l) => l.startsWith("pre_fork") && l.endsWith(`age=3 server=${s.pid}`)),
      `pre_fork for the replacement\n${lines().join("\n")}\n${s.stderr()}`,
    );
    process.kill(pids[1], "SIGINT");
    await waitFor(() => lines().includes(`worker_int ${pids[1]}`), 10000, "worker_int after SIGINT");
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("worker_abort runs in a timed-out worker whose event loop is stuck, before the SIGKILL", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-hooks-abort-"));
    const events = path.join(dir, "events.log");
    fs.writeFileSync(
      path.join(dir, "ps.mjs"),
      `import fs from "node:fs";
export default { workers: 1, timeout: 1, app: ${JSON.stringify(path.join(APPS, "node-listener.mjs"))} + "#app" };
export function worker_abort(worker) { fs.appendFileSync(${JSON.stringify(events)}, "worker_abort " + worker.pid + "\\n"); }
`,
    );
    const s = await start(["serve", "-c", "ps.mjs", "-b", "127.0.0.1:0"], { cwd: dir, workers: 1 });
    const [pid] = workerPids(s.pid);
    void get(`${s.url}/block?ms=30000`, { timeoutMs: 20000 }).catch(() => null);
    await waitFor(() => fs.existsSync(events) && fs.readFileSync(events, "utf8").includes(`worker_abort ${pid}`), 15000, "worker_abort");
    await waitFor(() => workersMatch(s.pid, (now) => now.length === 1 && now[0] !== pid), 15000, "replacement worker");
    assert.match(s.stderr(), /WORKER TIMEOUT \(pid:\d+\)/);
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
