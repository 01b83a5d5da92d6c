// `prodserver serve` serves apps of every supported shape on a shared listening socket.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { APPS, killAll, get, run, start, withTimeout, title, waitFor, workerPids, type Server } from "./runtime-support.js";

const servers: Server[] = [];
after(async () => {
  for (const s of servers) await s.stop("SIGTERM", 5000).catch(() => {});
  await killAll();
});
async function serve(args: string[], workers?: number, env?: NodeJS.ProcessEnv): Promise<Server> {
  const s = await start(["serve", ...args], { workers, env });
  servers.push(s);
  return s;
}

describe("runtime serve", { timeout: 120000 }, () => {
  test("N workers accept on the one socket the arbiter bound; distinct worker pids answer", async () => {
    const s = await serve(["node-listener.mjs#app", "--workers", "3", "--bind", "127.0.0.1:0", "--name", "pidtest"], 3);
    const pids = workerPids(s.pid);
    assert.equal(pids.length, 3);
    assert.equal(title(s.pid), "prodserver: arbiter [pidtest]");
    for (const p of pids) assert.equal(title(p), "prodserver: worker [pidtest]");
    // A worker busy in a blocking request cannot accept: concurrent blocking requests must be
    // answered by different workers, all children of the arbiter.
    const seen = new Set<number>();
    for (let round = 0; round < 5 && seen.size < 2; round++) {
      const replies = await Promise.all([1, 2, 3].map(() => get(`${s.url}/block?ms=300`)));
      for (const r of replies) seen.add(Number(r.body.split(" ")[1]));
    }
    assert.ok(seen.size >= 2, `expected >= 2 distinct worker pids, saw ${[...seen]}`);
    for (const p of seen) assert.ok(pids.includes(p), `pid ${p} is not a worker of ${s.pid} (${pids})`);
  });

  test("node request listener, factory, fetch function and Hono app are all served", async () => {
    const cases: Array<[string, RegExp, string]> = [
      ["node-listener.mjs#app", /^hello from node listener/, "/"],
      ["node-listener.mjs#createApp()", /^hello from node listener/, "/"],
      ["node-listener.mjs", /^hello from node listener/, "/"],
      ["fetch-fn.mjs", /^hello from fetch \/some\/path$/, "/some/path"],
      ["hono-app.mjs", /^hello from hono$/, "/"],
    ];
    for (const [app, re, p] of cases) {
      const s = await serve([app, "-b", "127.0.0.1:0"]);
      const r = await get(`${s.url}${p}`);
      assert.equal(r.status, 200, app);
      assert.match(r.body, re, app);
      const { code } = await s.stop("SIGTERM");
      assert.equal(code, 0, app);
    }
  });

  test("--chdir resolves the app from another directory; --env sets variables for the app", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "--chdir", APPS, "-e", "FIXTURE_VERSION=v9", "-b", "127.0.0.1:0"], { cwd: os.tmpdir() });
    servers.push(s);
    assert.equal((await get(`${s.url}/`)).body, "hello from node listener v9");
    const bad = run(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0"], { cwd: os.tmpdir() });
    assert.equal((await withTimeout(bad.exited, 15000, "exit")).code, 4, "without --chdir the app is not found from elsewhere");
  });

  test("health endpoints are answered by the runtime before the app", async () => {
    const s = await serve(["hono-app.mjs", "-b", "127.0.0.1:0"]);
    assert.deepEqual([(await get(`${s.url}/livez`)).body, (await get(`${s.url}/healthz`)).body, (await get(`${s.url}/readyz?x=1`)).body], ["ok", "ok", "ready"]);
    assert.equal((await get(`${s.url}/nothere`)).status, 404); // the app's own 404
    const head = await get(`${s.url}/readyz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
  });

  test("unix socket bind: mode 0666 by default, served, removed at stop", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-unix-"));
    const sock = path.join(dir, "app.sock");
    const s = await serve(["node-listener.mjs#app", "-b", `unix:${sock}`, "-w", "2"], 2);
    assert.ok(fs.statSync(sock).isSocket());
    assert.equal(fs.statSync(sock).mode & 0o777, 0o666);
    const r = await get("http://localhost/readyz", { socketPath: sock });
    assert.equal(r.body, "ready");
    const r2 = await get("http://localhost/", { socketPath: sock });
    assert.match(r2.body, /^hello from node listener/);
    assert.equal((await s.stop("SIGTERM")).code, 0);
    assert.equal(fs.existsSync(sock), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("tcp and IPv6 binds together; PORT picks 0.0.0.0:$PORT when no --bind", async () => {
    const s = await serve(["fetch-fn.mjs", "-b", "127.0.0.1:0", "-b", "[::1]:0"]);
    const v6 = /Listening at: (http:\/\/\[::1\]:\d+)/.exec(s.stderr());
    assert.ok(v6, s.stderr());
    assert.match((await get(`${v6[1]}/x`)).body, /hello from fetch \/x/);
    assert.match((await get(`${s.url}/y`)).body, /hello from fetch \/y/);
  });

  test("access log: Gunicorn's default format, atoms, escaping, and JSON lines", async () => {
    const fmt = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" m=%(m)s U=%(U)s q=%(q)s H=%(H)s B=%(B)s p=%(p)s id=%({x-request-id}i)s srv=%({x-served-by}o)s D=%(D)s';
    const s = await serve(["node-listener.mjs#app", "-b", "127.0.0.1:0", "--access-logfile", "-", "--access-logformat", fmt]);
    await get(`${s.url}/hello?a=1`, {
      headers: { "user-agent": 'evil"\t\\agent', referer: "http://ref/", "x-request-id": "rid-7", authorization: "Basic " + Buffer.from("alice:pw").toString("base64") },
    });
    await waitFor(() => /GET \/hello/.test(s.stdout()), 5000, "access log line");
    const line = s
      .stdout()
      .split("\n")
      .find((l) => l.includes("GET /hello"))!;
    const re =
      /^127\.0\.0\.1 - alice \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/hello\?a=1 HTTP\/1\.1" 200 (\d+) "http:\/\/ref\/" "evil\\"\\x09\\\\agent" m=GET U=\/hello q=a=1 H=HTTP\/1\.1 B=(\d+) p=<(\d+)> id=rid-7 srv=(\d+) D=\d+$/;
    const m = re.exec(line);
    assert.ok(m, `line does not match: ${line}`);
    assert.equal(m[1], String(Buffer.byteLength("hello from node listener v1")));
    assert.equal(m[3], m[4]); // %(p)s is the worker that served, as the app's header says
    await s.stop("SIGTERM");

    const j = await serve(["hono-app.mjs", "-b", "127.0.0.1:0", "--access-logfile", "-", "--log-format", "json"]);
    await get(`${j.url}/json?z=9`, { headers: { "user-agent": 'ua\t"q"' } });
    await waitFor(() => j.stdout().includes("/json"), 5000, "json access line");
    const rec = JSON.parse(
      j
        .stdout()
        .split("\n")
        .find((l) => l.includes("/json"))!,
    );
    assert.equal(rec.method, "GET");
    assert.equal(rec.path, "/json");
    assert.equal(rec.query, "z=9");
    assert.equal(rec.status, 200);
    assert.equal(rec.user_agent, 'ua\t"q"');
    assert.ok(rec.bytes > 0 && typeof rec.duration_s === "number");
    assert.ok(
      j
        .stderr()
        .split("\n")
        .filter(Boolean)
        .every((l) => JSON.parse(l).level),
      "error log lines are JSON too",
    );
  });

  test("keep-alive connections are reused with keepalive > 0 and closed with keepalive 0", async () => {
    const s = await serve(["node-listener.mjs#app", "-b", "127.0.0.1:0", "--keep-alive", "0"]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const r = await get(`${s.url}/`, { agent });
    assert.equal(r.headers.connection, "close");
    agent.destroy();
    const k = await serve(["node-listener.mjs#app", "-b", "127.0.0.1:0", "--keep-alive", "7"]);
    const agent2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const r2 = await get(`${k.url}/`, { agent: agent2 });
    assert.equal(r2.headers.connection, "keep-alive");
    assert.equal(r2.headers["keep-alive"], "timeout=7");
    agent2.destroy();
  });
});
