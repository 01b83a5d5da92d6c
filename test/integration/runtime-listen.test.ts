// Listen mode: apps that start their own server (app.listen(PORT)) served unchanged on the
// arbiter's socket, with the runtime's health endpoints, drain, reload and boot-failure messages.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { ROOT, get, killAll, load, run, start, waitFor, withTimeout, workerPids, workersMatch } from "./runtime-support.js";

after(killAll);

const LISTEN = path.join(ROOT, "test/fixtures/listen");

/** Distinct bodies of `n` requests, each on its own connection. */
async function distinct(url: string, n: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add((await get(url)).body);
  return out;
}

describe("listen mode", { timeout: 120000 }, () => {
  test("the Express tutorial app (listens itself, exports nothing) is served by every worker on the arbiter's socket", async () => {
    const s = await start(["serve", "express-listen.cjs", "-w", "2", "-b", "127.0.0.1:0", "--access-logfile", "-"], { cwd: LISTEN, workers: 2 });
    const port = Number(new URL(s.url).port);
    assert.equal((await get(`${s.url}/`)).body, "Hello World!");
    const pids = workerPids(s.pid).map(String);
    await waitFor(async () => (await distinct(`${s.url}/pid`, 20)).size === 2, 10000, "both workers answering");
    for (const p of await distinct(`${s.url}/pid`, 20)) assert.ok(pids.includes(p), `${p} is a worker`);
    // As `node index.js`: require.main is the app, argv[1] its file; address() is the served socket.
    const info = JSON.parse((await get(`${s.url}/info`)).body);
    assert.deepEqual(info.address, { address: "127.0.0.1", family: "IPv4", port });
    assert.equal(info.isMain, true);
    assert.equal(info.argv[0], path.join(LISTEN, "express-listen.cjs"));
    assert.equal(info.port, String(port));
    assert.equal(info.noDelay, true, "TCP_NODELAY on the connection, as the app's http.Server sets it when it accepts itself");
    // The runtime answers its own endpoints first, logs the access line, and the app's own log line is there.
    assert.equal((await get(`${s.url}/readyz`)).body, "ready");
    await waitFor(() => /"GET \/info HTTP\/1\.1" 200/.test(s.stdout()), 5000, "access log line");
    assert.match(s.stdout(), new RegExp(`Example app listening on port ${port}`));
    assert.doesNotMatch(s.stderr(), /EADDRINUSE/);
    assert.equal((await s.stop()).code, 0);
  });

  test("HUP under keep-alive load and TERM with a request in flight: no failed request, exit 0", async () => {
    const s = await start(["serve", "express-listen.cjs", "-w", "2", "-b", "127.0.0.1:0", "--graceful-timeout", "10"], { cwd: LISTEN, workers: 2 });
    const l = load(s.url, 6);
    await waitFor(() => l.total() > 50, 10000, "load to run");
    const old = workerPids(s.pid);
    process.kill(s.pid, "SIGHUP");
    await waitFor(() => workersMatch(s.pid, (now) => now.length === 2 && now.every((p) => !old.includes(p))), 20000, "a new generation");
    const at = l.total();
    await waitFor(() => l.total() > at + 50, 10000, "load on the new generation");
    await l.stop();
    assert.deepEqual(l.errors, [], `failed requests across the reload (${l.total()} total)`);
    const inFlight = get(`${s.url}/slow?ms=1500`);
    await new Promise((r) => setTimeout(r, 300));
    const stopped = s.stop("SIGTERM");
    assert.equal((await inFlight).body, "slow done");
    assert.equal((await stopped).code, 0);
  });

  test("an app whose own SIGTERM handler calls process.exit still drains: the handler runs after the last response", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-listen-"));
    const mark = path.join(dir, "events");
    const s = await start(["serve", "sigterm-exit.mjs", "-w", "1", "-b", "127.0.0.1:0"], { cwd: LISTEN, workers: 1, env: { EXIT_MARK: mark } });
    const [pid] = workerPids(s.pid);
    const inFlight = get(`${s.url}/slow`);
    await new Promise((r) => setTimeout(r, 300));
    const stopped = s.stop("SIGTERM");
    assert.equal((await inFlight).body, "slow done");
    assert.equal((await stopped).code, 0);
    assert.equal(fs.readFileSync(mark, "utf8"), `app SIGTERM handler ${pid}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("listen-close-listen probes, two servers on the port, systemd-style fd 3 and conventions are served", async () => {
    const probe = await start(["serve", "probe.mjs", "-w", "1", "-b", "127.0.0.1:0"], { cwd: LISTEN, workers: 1 });
    assert.match((await get(`${probe.url}/`)).body, /^probed then served on \d+$/);
    assert.equal((await probe.stop()).code, 0);

    const dual = await start(["serve", "dual.mjs", "-w", "1", "-b", "127.0.0.1:0"], { cwd: LISTEN, workers: 1 });
    assert.deepEqual([...(await distinct(`${dual.url}/`, 5))], ["dual v4"]);
    assert.equal((await dual.stop()).code, 0);

    const sd = await start(["serve", "socket-activation.mjs", "-w", "2", "-b", "127.0.0.1:0"], { cwd: LISTEN, workers: 2 });
    assert.equal((await get(`${sd.url}/`)).body, "socket activation fd 3");
    assert.equal((await sd.stop()).code, 0);

    const env = await start(["serve", "spawn-env.mjs", "-w", "1", "-b", "127.0.0.1:0"], { cwd: LISTEN, workers: 1 });
    const port = Number(new URL(env.url).port);
    const seen = JSON.parse((await get(`${env.url}/`)).body);
    assert.deepEqual(seen, { address: { address: "127.0.0.1", family: "IPv4", port }, env: { PORT: String(port), HOST: "127.0.0.1", HOSTNAME: "127.0.0.1", NITRO_PORT: String(port) } });
    // Nothing the runtime hands the app for its listen leaks into the app's own child processes.
    assert.deepEqual(JSON.parse((await get(`${env.url}/child-env`)).body), { LISTEN_FDS: null, LISTEN_PID: null, PORT: String(port) });
    assert.equal((await env.stop()).code, 0);
  });

  test("an export that also listens is served without EADDRINUSE", async () => {
    const s = await start(["serve", "exports-and-listens.cjs", "-w", "2", "-b", "127.0.0.1:0"], { cwd: LISTEN, workers: 2 });
    assert.equal((await get(`${s.url}/`)).body, "exported and listening");
    assert.doesNotMatch(s.stderr(), /EADDRINUSE/);
    assert.equal((await s.stop()).code, 0);
  });

  test("an app that never listens on PORT fails to boot naming the entry and where it did listen, unless app_port names its port; one that clusters itself is refused by name", async () => {
    const never = run(["serve", "never-listens.mjs", "-w", "1", "-b", "127.0.0.1:0", "--timeout", "2"], { cwd: LISTEN });
    assert.equal((await withTimeout(never.exited, 20000, "exit")).code, 4);
    assert.match(
      never.stderr(),
      /App failed to load \(worker \d+\): the app neither exports a request handler nor listened on the served port \d+ \(PORT\) within 2 s; it listened on 127\.0\.0\.1:0 instead/,
    );
    assert.match(never.stderr(), /never-listens\.mjs/);

    const other = run(["serve", "other-port.mjs", "-w", "1", "-b", "127.0.0.1:0", "--timeout", "2"], { cwd: LISTEN, env: { OTHER_PORT: "0" } });
    assert.equal((await withTimeout(other.exited, 20000, "exit")).code, 4);
    assert.match(other.stderr(), /it listened on 127\.0\.0\.1:0 instead/);

    // app_port: an app that listens on a fixed port instead of PORT is served once that port is named.
    const fixed = await start(["serve", "other-port.mjs", "-w", "2", "-b", "127.0.0.1:0", "--app-port", "3999"], { cwd: LISTEN, workers: 2, env: { OTHER_PORT: "3999" } });
    assert.equal((await get(`${fixed.url}/`)).body, "wrong port");
    assert.equal((await fixed.stop()).code, 0);

    const clustered = run(["serve", "clusters.mjs", "-w", "1", "-b", "127.0.0.1:0"], { cwd: LISTEN });
    assert.equal((await withTimeout(clustered.exited, 20000, "exit")).code, 4);
    assert.match(clustered.stderr(), /the app calls cluster\.fork\(\) to start workers of its own; prodserver already runs `workers` worker processes/);
  });

  test("a package binary with arguments runs as `bin ARG...` (PM2's script + args)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-listen-bin-"));
    // Named like its binary, with a library main as well (as `next` is): the binary is what runs.
    const pkg = path.join(dir, "node_modules", "serve-it");
    fs.mkdirSync(path.join(pkg, "bin"), { recursive: true });
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "app", dependencies: { "serve-it": "1.0.0" } }));
    fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "serve-it", version: "1.0.0", main: "lib.js", bin: { "serve-it": "bin/cli" } }));
    fs.writeFileSync(path.join(pkg, "lib.js"), "module.exports = function createServer(options) { return options; };\n");
    fs.writeFileSync(
      path.join(pkg, "bin", "cli"),
      `#!/usr/bin/env node\nconst http = require("node:http");\nconst [, , cmd, file] = process.argv;\nhttp.createServer((q, r) => r.end(cmd + " " + file)).listen(process.env.PORT);\n`,
    );
    const s = await start(["serve", "serve-it start build/server.js", "-w", "1", "-b", "127.0.0.1:0"], { cwd: dir, workers: 1 });
    assert.equal((await get(`${s.url}/`)).body, "start build/server.js");
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
