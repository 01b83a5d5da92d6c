// user/group: workers switch to them before loading the app; the arbiter stays root.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { get, killAll, run, start, waitFor, withTimeout, workerPids } from "./runtime-support.js";

after(killAll);

/** Real and effective uid/gid of a process, from /proc/PID/status (`Uid:\treal\teffective\t...`). */
function ids(pid: number): { uid: number[]; gid: number[] } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    /^(\S+):\s+(\d+)\s+(\d+)/m
      .exec(status.split("\n").find((l) => l.startsWith(`${name}:`))!)!
      .slice(2, 4)
      .map(Number);
  return { uid: field("Uid"), gid: field("Gid") };
}

describe("user and group", { timeout: 60000, skip: process.getuid?.() !== 0 ? "needs root" : false }, () => {
  test("--user nobody --group nogroup: workers run as nobody, the arbiter as root, requests are served", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-owner-"));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, "app.mjs"), "export function app(req, res) { res.end(`uid ${process.getuid()}`); }\n");
    const nobody = fs
      .readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith("nobody:"))!
      .split(":");
    const nogroup = fs
      .readFileSync("/etc/group", "utf8")
      .split("\n")
      .find((l) => l.startsWith("nogroup:"))!
      .split(":");
    const s = await start(["serve", "app.mjs#app", "-b", "127.0.0.1:0", "-w", "2", "--user", "nobody", "--group", "nogroup"], { cwd: dir, workers: 2 });
    assert.equal((await get(`${s.url}/`)).body, `uid ${nobody[2]}`);
    // A worker is titled before it switches user; read the ids once both are serving.
    await waitFor(() => /Ready: 2 worker\(s\) serving/.test(s.stderr()), 20000, "both workers ready");
    for (const pid of workerPids(s.pid)) assert.deepEqual(ids(pid), { uid: [Number(nobody[2]), Number(nobody[2])], gid: [Number(nogroup[2]), Number(nogroup[2])] }, `worker ${pid}`);
    assert.deepEqual(ids(s.pid), { uid: [0, 0], gid: [0, 0] });
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("an unknown user or group is a configuration error naming the setting", async () => {
    const bad = run(["serve", "node-listener.mjs#app", "--user", "no-such-user-xyz"]);
    assert.equal((await withTimeout(bad.exited, 10000, "exit")).code, 1);
    assert.match(bad.stderr(), /user \(from [^)]+\): no such user "no-such-user-xyz"/);
    const badGroup = run(["serve", "node-listener.mjs#app", "-g", "no-such-group-xyz"]);
    assert.equal((await withTimeout(badGroup.exited, 10000, "exit")).code, 1);
    assert.match(badGroup.stderr(), /group \(from [^)]+\): no such group "no-such-group-xyz"/);
  });
});
