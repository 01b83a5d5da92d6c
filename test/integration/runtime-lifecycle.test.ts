// Worker replacement, graceful and quick stop, boot failures and their exit codes.
import assert from "node:assert/strict";
import http from "node:http";
import { after, describe, test } from "node:test";
import { killAll, alive, get, run, start, waitFor, withTimeout, workerPids, type Server } from "./runtime-support.js";

const servers: Server[] = [];
after(async () => {
  for (const s of servers) await s.stop("SIGTERM", 5000).catch(() => {});
  await killAll();
});
async function serve(args: string[], workers?: number): Promise<Server> {
  const s = await start(["serve", ...args], { workers });
  servers.push(s);
  return s;
}

describe("runtime lifecycle", { timeout: 90000 }, () => {
  test("a SIGKILLed worker is replaced and the socket keeps serving", async () => {
    const s = await serve(["node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0"], 2);
    const [victim] = workerPids(s.pid);
    process.kill(victim, "SIGKILL");
    await waitFor(
      () => {
        const now = workerPids(s.pid);
        return now.length === 2 && !now.includes(victim);
      },
      10000,
      "a replacement worker",
    );
    await waitFor(() => /Worker \(pid:\d+\) was sent SIGKILL/.test(s.stderr()), 5000, "the kill to be logged");
    for (let i = 0; i < 5; i++) assert.equal((await get(`${s.url}/readyz`)).status, 200);
  });

  test("the only worker dying keeps the listening socket (port stays, connections wait in the backlog)", async () => {
    const s = await serve(["node-listener.mjs#app", "-w", "1", "-b", "127.0.0.1:0"], 1);
    const [victim] = workerPids(s.pid);
    process.kill(victim, "SIGKILL");
    // Sent while no worker may be accepting: it waits in the backlog for the replacement.
    const r = await get(`${s.url}/pid`);
    assert.equal(r.status, 200);
    assert.notEqual(Number(r.body), victim);
  });

  test("SIGTERM drains: an in-flight slow request completes, readyz turns 503, exit 0", async () => {
    const s = await serve(["node-listener.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--graceful-timeout", "20"], 1);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    // A keep-alive connection that is mid-request when the stop begins.
    const slow = get(`${s.url}/slow?ms=1500`, { agent });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(s.pid, "SIGTERM");
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.match(reply.body, /^slow done/);
    assert.equal(reply.headers.connection, "close", "a draining worker closes keep-alive connections after the response");
    const { code, signal } = await withTimeout(s.exited, 15000, "exit after drain");
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    agent.destroy();
  });

  test("readyz answers 503 draining on a connection kept open across the stop", async () => {
    const s = await serve(["node-listener.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--keep-alive", "10"], 1);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await get(`${s.url}/readyz`, { agent })).status, 200);
    const slow = get(`${s.url}/slow?ms=1500`, { agent: new http.Agent({ keepAlive: true }) });
    await new Promise((r) => setTimeout(r, 200));
    process.kill(s.pid, "SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    const r = await get(`${s.url}/readyz`, { agent }); // reuses the idle keep-alive connection
    assert.equal(r.status, 503);
    assert.equal(r.body, "draining");
    assert.equal(r.headers.connection, "close");
    await slow;
    assert.equal((await withTimeout(s.exited, 15000, "exit")).code, 0);
    agent.destroy();
  });

  test("SIGINT and SIGQUIT stop quickly with exit 0 and no worker left behind", async () => {
    for (const sig of ["SIGINT", "SIGQUIT"] as const) {
      const s = await serve(["fetch-fn.mjs", "-w", "2", "-b", "127.0.0.1:0"], 2);
      const pids = workerPids(s.pid);
      const { code } = await s.stop(sig, 10000);
      assert.equal(code, 0, sig);
      await waitFor(() => pids.every((p) => !alive(p)), 5000, "workers gone");
    }
  });

  test("bad app path: exit 4 at first boot, the message names the module, no crash loop", async () => {
    const s = run(["serve", "does/not/exist.mjs#app", "-w", "3", "-b", "127.0.0.1:0"]);
    const { code } = await withTimeout(s.exited, 15000, "exit");
    assert.equal(code, 4);
    assert.match(s.stderr(), /App failed to load .*cannot find module "does\/not\/exist\.mjs".*module \/\S+\/does\/not\/exist\.mjs/);
    assert.ok((s.stderr().match(/Booting worker/g) ?? []).length <= 3, "workers are not restarted");
  });

  test("an app throwing at import: exit 4 with the app's stack and module path", async () => {
    const s = run(["serve", "throws-at-import.mjs", "-w", "2", "-b", "127.0.0.1:0"]);
    const { code } = await withTimeout(s.exited, 15000, "exit");
    assert.equal(code, 4);
    assert.match(s.stderr(), /fixture: database URL missing/);
    assert.match(s.stderr(), /at connectToDatabase \(file:\/\/\S+throws-at-import\.mjs:\d+:\d+\)/);
    assert.match(s.stderr(), /module \/\S+throws-at-import\.mjs/);
    assert.match(s.stderr(), /Reason: App failed to load/);
  });

  test("a worker dying before ready (exit 9 at import) halts the first boot with 3, not a crash loop", async () => {
    const s = run(["serve", "exits-at-import.mjs", "-w", "2", "-b", "127.0.0.1:0"]);
    const { code } = await withTimeout(s.exited, 15000, "exit");
    assert.equal(code, 3);
    assert.match(s.stderr(), /Worker failed to boot \(worker \d+\) \(it exited with code 9 before it was ready\)/);
    assert.ok((s.stderr().match(/Booting worker/g) ?? []).length <= 2, "workers are not restarted");
  });

  test("an export that is not an app, or a missing export: exit 4 naming the export", async () => {
    for (const [app, re] of [
      ["not-an-app.mjs#app", /export "app" is an object with keys hello/],
      ["node-listener.mjs#nope", /no export "nope" \(exports: app, createApp, default\)/],
    ] as const) {
      const s = run(["serve", app, "-b", "127.0.0.1:0"]);
      assert.equal((await withTimeout(s.exited, 15000, "exit")).code, 4, app);
      assert.match(s.stderr(), re);
    }
  });

  test("bad configuration exits 1 naming the setting; bind failure exits 1", async () => {
    const s = run(["serve", "fetch-fn.mjs", "--workers", "zero"]);
    assert.equal((await withTimeout(s.exited, 10000, "exit")).code, 1);
    assert.match(s.stderr(), /workers \(from command line\): expected an integer, got "zero"/);
    const first = await serve(["fetch-fn.mjs", "-b", "127.0.0.1:0"]);
    const port = new URL(first.url).port;
    const clash = run(["serve", "fetch-fn.mjs", "-b", `127.0.0.1:${port}`]);
    assert.equal((await withTimeout(clash.exited, 10000, "exit")).code, 1);
    assert.match(clash.stderr(), new RegExp(`bind 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  });
});
