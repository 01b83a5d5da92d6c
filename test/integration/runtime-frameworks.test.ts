// Real frameworks (installed as devDependencies) served by the real runtime with 2 workers:
// Express 5 (request listener), Koa 3 (app.callback()), Hono 4 ({ fetch }), Fastify 5 and
// NestJS 11 (a factory returning their never-listened http.Server). For each: GET / answers
// the framework's text, a JSON POST is echoed, an unknown route is the framework's 404, and a
// handler that throws is a 500 that does not cost a worker.
import assert from "node:assert/strict";
import path from "node:path";
import { after, describe, test } from "node:test";
import { ROOT, killAll, start, workerPids } from "./runtime-support.js";

after(killAll);

const FRAMEWORKS = path.join(ROOT, "test/fixtures/frameworks");

const CASES = [
  { name: "express", spec: "express-app.mjs#app", notFound: /Cannot GET \/nope/ },
  { name: "koa", spec: "koa-app.mjs#handler", notFound: /Not Found/ },
  { name: "hono", spec: "hono-app.mjs", notFound: /404 Not Found/ },
  { name: "fastify", spec: "fastify-app.mjs#createApp()", notFound: /Route GET:\/nope not found/ },
  { name: "nest", spec: "nest-app.mjs#createApp()", notFound: /Cannot GET \/nope/ },
];

/** One request on a fresh connection (no keep-alive pooling across workers). */
async function call(url: string, init: RequestInit = {}): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(url, { ...init, headers: { connection: "close", ...(init.headers as Record<string, string>) }, signal: AbortSignal.timeout(10000) });
  return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() };
}

describe("runtime serves real frameworks", { timeout: 120000 }, () => {
  for (const c of CASES) {
    test(`${c.name}: GET /, JSON POST echo, 404, thrown error -> 500 with both workers still serving`, async () => {
      const s = await start(["serve", c.spec, "-w", "2", "-b", "127.0.0.1:0"], { cwd: FRAMEWORKS, workers: 2 });
      const pids = workerPids(s.pid);

      const root = await call(`${s.url}/`);
      assert.equal(root.status, 200, root.body);
      assert.equal(root.body, `hello from ${c.name}`);
      assert.match(root.type, /^text\/plain/);

      const payload = { n: 42, list: ["a", "ü"], nested: { ok: true } };
      const echo = await call(`${s.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });
      assert.ok(echo.status === 200 || echo.status === 201, `${echo.status} ${echo.body}`); // Nest's @Post answers 201
      assert.match(echo.type, /^application\/json/);
      assert.deepEqual(JSON.parse(echo.body), { framework: c.name, body: payload });

      const missing = await call(`${s.url}/nope`);
      assert.equal(missing.status, 404);
      assert.match(missing.body, c.notFound);

      for (let i = 0; i < 4; i++) assert.equal((await call(`${s.url}/boom`)).status, 500);
      assert.equal((await call(`${s.url}/`)).status, 200, "still serving after the errors");
      assert.deepEqual(workerPids(s.pid), pids, "no worker was lost to the thrown errors");
      assert.doesNotMatch(s.stderr(), /Worker \(pid:\d+\) (exited|was sent)/);
      assert.equal((await s.stop()).code, 0);
    });
  }
});
