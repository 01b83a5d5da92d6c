// What a worker's exit means (runtime/arbiter/exits.ts): the arbiter halts, rolls back, backs off
// or just replaces the worker on these verdicts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CRASH_WINDOW_MS, judgeExit } from "../../runtime/arbiter/exits.js";
import type { WorkerRec } from "../../runtime/arbiter/worker-record.js";

const rec = (over: Partial<WorkerRec>) => ({ pid: 42, state: "serving", readyAt: null, ...over }) as WorkerRec;

test("an exit before ready is a boot failure with Gunicorn's codes: the worker's own report first, else 4 for code 4, else 3", () => {
  const reported = judgeExit(rec({ state: "booting", bootError: { t: "boot-error", code: 4, message: "Cannot find module 'x'", stack: "at y", module: "app.js" } }), 4, null);
  assert.deepEqual(reported, {
    kind: "boot-failure",
    exitCode: 4,
    what: "App failed to load",
    reason: "App failed to load: Cannot find module 'x'",
    message: "App failed to load (worker 42): Cannot find module 'x'",
    stack: "at y",
    module: "app.js",
  });
  const oom = judgeExit(rec({ state: "booting" }), null, "SIGKILL");
  assert.equal(oom.kind === "boot-failure" && oom.exitCode, 3);
  assert.equal(oom.kind === "boot-failure" && oom.message, "Worker failed to boot (worker 42) (it was sent SIGKILL! Perhaps out of memory? before it was ready)");
  const silent4 = judgeExit(rec({ state: "booting" }), 4, null);
  assert.equal(silent4.kind === "boot-failure" && silent4.what, "App failed to load");
});

test("exits the arbiter asked for are expected; killed ones are logged at info", () => {
  assert.deepEqual(judgeExit(rec({ state: "killed", endCause: "timeout" }), null, "SIGKILL"), { kind: "expected", level: "info", message: "Worker (pid:42) killed after timeout; replacing it" });
  assert.deepEqual(judgeExit(rec({ state: "retiring" }), 0, null), { kind: "expected", level: "debug", message: "Worker (pid:42) exited with code 0" });
  assert.equal(judgeExit(rec({ state: "recycling" }), 0, null).kind, "expected");
});

test("a serving worker's exit is a crash; a crash loop only within CRASH_WINDOW_MS of becoming ready", () => {
  const now = 1_000_000;
  assert.deepEqual(judgeExit(rec({ readyAt: now - CRASH_WINDOW_MS + 1 }), 1, null, now), { kind: "crash", message: "Worker (pid:42) exited with code 1", crashLoop: true });
  assert.equal((judgeExit(rec({ readyAt: now - CRASH_WINDOW_MS }), 1, null, now) as { crashLoop: boolean }).crashLoop, false);
  assert.equal(judgeExit(rec({ readyAt: now - 10 }), null, "SIGSEGV", now).message, "Worker (pid:42) was sent SIGSEGV");
});
