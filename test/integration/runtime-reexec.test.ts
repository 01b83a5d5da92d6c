// USR2: a new arbiter inherits the listening sockets; the old one is stopped with TERM; no
// request fails, the unix socket file survives the old arbiter, the pidfile moves to the new one;
// the pre_exec hook runs in the old arbiter just before the new one starts.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { alive, childPids, get, killAll, start, waitFor, workerPids } from "./runtime-support.js";

let newArbiter = 0;
after(async () => {
  if (newArbiter && alive(newArbiter)) process.kill(newArbiter, "SIGKILL");
  await killAll();
});

describe("runtime USR2 re-exec", { timeout: 60000 }, () => {
  test("new arbiter on the same sockets, old one drained, zero failed requests", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-usr2-"));
    const sock = path.join(dir, "app.sock");
    const pidfile = path.join(dir, "app.pid");
    const events = path.join(dir, "events.log");
    fs.writeFileSync(
      path.join(dir, "ps.mjs"),
      `import fs from "node:fs";\nexport function pre_exec(server) { fs.appendFileSync(${JSON.stringify(events)}, "pre_exec " + server.pid + " workers=" + server.workers().length + "\\n"); }\n`,
    );
    const old = await start(["serve", "node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0", "-b", `unix:${sock}`, "--pid", pidfile, "-c", path.join(dir, "ps.mjs")], { workers: 2 });
    const oldWorkers = workerPids(old.pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const errors: string[] = [];
    const pids = new Set<string>();
    let running = true;
    const loops = [1, 2, 3, 4].map(async () => {
      const until = Date.now() + 30000;
      while (running && Date.now() < until) {
        await get(`${old.url}/pid`, { agent, timeoutMs: 5000 }).then(
          (r) => (r.status === 200 ? pids.add(r.body) : errors.push(`status ${r.status}`)),
          (e: Error) => errors.push(e.message),
        );
      }
    });

    process.kill(old.pid, "SIGUSR2");
    await waitFor(() => /Re-exec: started a new arbiter \(pid \d+\)/.test(old.stderr()), 10000, "the new arbiter");
    newArbiter = Number(/Re-exec: started a new arbiter \(pid (\d+)\)/.exec(old.stderr())![1]);
    await waitFor(() => childPids(old.pid, "prodserver: arbiter").includes(newArbiter), 10000, "the new arbiter titled as an arbiter");
    await waitFor(() => workerPids(newArbiter).length === 2, 20000, "its workers").catch((e: Error) => {
      throw new Error(`${e.message}: ${workerPids(newArbiter)}\n${old.stderr()}`);
    });
    await waitFor(() => fs.existsSync(`${pidfile}.2`), 5000, "<pidfile>.2");
    assert.equal(fs.readFileSync(`${pidfile}.2`, "utf8").trim(), String(newArbiter));
    assert.match(old.stderr(), /Inheriting 2 socket\(s\) from arbiter \d+ \(USR2 re-exec\)/);
    process.kill(old.pid, "SIGUSR2"); // ignored while the new one runs
    await waitFor(() => /USR2 ignored: a re-exec'd arbiter is already running/.test(old.stderr()), 5000, "second USR2 ignored");
    assert.equal(fs.readFileSync(events, "utf8"), `pre_exec ${old.pid} workers=2\n`, "pre_exec once, in the old arbiter, not for the ignored USR2");

    assert.equal((await old.stop("SIGTERM")).code, 0);
    await waitFor(() => oldWorkers.every((p) => !alive(p)), 10000, "old workers gone");
    await waitFor(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, "utf8").trim() === String(newArbiter) && !fs.existsSync(`${pidfile}.2`), 5000, "pidfile promoted");
    const served = new Set(workerPids(newArbiter).map(String));
    const before = pids.size;
    await waitFor(() => [...pids].some((p) => served.has(p)), 10000, "the new workers serving");
    running = false;
    await Promise.all(loops);
    agent.destroy();
    assert.deepEqual(errors, [], `failed requests (${pids.size} pids seen, ${before} before)`);
    assert.ok(fs.statSync(sock).isSocket(), "the unix socket file survives the old arbiter");
    assert.match((await get("http://x/pid", { socketPath: sock })).body, /^\d+$/);

    process.kill(newArbiter, "SIGTERM");
    await waitFor(() => !alive(newArbiter), 15000, "the new arbiter to stop");
    assert.equal(fs.existsSync(sock), false);
    assert.equal(fs.existsSync(pidfile), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
