// TTIN/TTOU change the number of workers; USR1 reopens log files (logrotate's copy-less rotation).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { get, killAll, run, start, waitFor, workerPids } from "./runtime-support.js";

after(killAll);

describe("runtime signals", { timeout: 60000 }, () => {
  test("TTIN adds a worker, TTOU removes the oldest, never below 1", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0"], { workers: 2 });
    const [oldest] = workerPids(s.pid);
    process.kill(s.pid, "SIGTTIN");
    await waitFor(() => workerPids(s.pid).length === 3, 10000, "3 workers");
    process.kill(s.pid, "SIGTTOU");
    await waitFor(() => workerPids(s.pid).length === 2, 10000, "2 workers");
    assert.ok(!workerPids(s.pid).includes(oldest), "the oldest worker is the one retired");
    process.kill(s.pid, "SIGTTOU");
    await waitFor(() => workerPids(s.pid).length === 1, 10000, "1 worker");
    process.kill(s.pid, "SIGTTOU");
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(workerPids(s.pid).length, 1);
    assert.equal((await get(`${s.url}/readyz`)).status, 200);
    assert.match(s.stderr(), /Number of workers: 2 -> 3/);
    assert.match(s.stderr(), /Number of workers: 2 -> 1/);
    assert.equal((await s.stop()).code, 0);
  });

  test("USR1 reopens the access and error log files in the arbiter and every worker", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-logs-"));
    const access = path.join(dir, "access.log");
    const errors = path.join(dir, "error.log");
    const s = run(["serve", "node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0", "--access-logfile", access, "--error-logfile", errors]);
    await waitFor(() => fs.existsSync(errors) && /Listening at: /.test(fs.readFileSync(errors, "utf8")), 10000, "Listening at in the error log");
    s.url = `http://127.0.0.1:${/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(errors, "utf8"))![1]}`;
    await waitFor(() => workerPids(s.pid).length === 2, 10000, "2 workers");
    await waitFor(async () => (await get(`${s.url}/readyz`).catch(() => null))?.status === 200, 10000, "ready");
    assert.equal(s.stderr(), "", "the error log goes to the file, not stderr");
    await get(`${s.url}/before`);
    await waitFor(() => fs.readFileSync(access, "utf8").includes("/before"), 5000, "access line");
    fs.renameSync(access, `${access}.1`);
    fs.renameSync(errors, `${errors}.1`);
    process.kill(s.pid, "SIGUSR1");
    await waitFor(() => fs.existsSync(access), 15000, "a new access log");
    // The arbiter forwards USR1 to each worker: wait until every worker holds the new file and
    // none the rotated one (the first worker's reopen creates the file; its sibling may lag).
    await waitFor(
      () =>
        workerPids(s.pid).every((pid) => {
          const open = openFiles(pid);
          return open.includes(access) && !open.includes(`${access}.1`);
        }),
      15000,
      "every worker's access log reopened",
    );
    for (let i = 0; i < 6; i++) await get(`${s.url}/after${i}`);
    await waitFor(() => (fs.readFileSync(access, "utf8").match(/GET \/after/g) ?? []).length === 6, 15000, "all lines in the new file");
    assert.ok(!fs.readFileSync(`${access}.1`, "utf8").includes("/after"), "nothing written to the rotated file after USR1");
    await s.stop();
    assert.match(fs.readFileSync(errors, "utf8"), /Shutting down: Master/);
    assert.match(fs.readFileSync(`${errors}.1`, "utf8"), /Handling signal: usr1/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

/** The paths of the files `pid` holds open (from /proc/PID/fd); [] when it is gone. */
function openFiles(pid: number): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [fs.readlinkSync(`/proc/${pid}/fd/${fd}`)];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}
