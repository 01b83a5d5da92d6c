// Real nginx (generated include) in front of the real runtime (dist/prodserver-runtime.mjs), on
// loopback ports: proxy headers arrive, upstream keep-alive connections are reused (the map's
// "" → "" value), /readyz passes through. Both processes are stopped by PID.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles, derive } from "../../src/generate/index.js";
import { freePort, httpGet, until } from "../support/net.js";
import { startNginx, started, stopStarted } from "../support/nginx.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BUNDLE = path.join(ROOT, "dist/prodserver-runtime.mjs");
after(stopStarted);

/** GET through `agent` with the Host the proxy tests expect. */
const get = (port: number, p: string, agent: http.Agent) => httpGet(port, p, { agent, headers: { Host: "example.test" } });

/**
 * Start the runtime (with the description's web flags, as the Dockerfile CMD, bound to loopback)
 * and real nginx with the generated include in front of it (`listen N` rewritten to loopback);
 * both are stopped by the file's `after`. Resolves once each answers.
 */
async function startProxyPair(d: ReturnType<typeof validateDescription>, dir: string, agent: http.Agent) {
  const appPort = d.port;
  const nginxPort = d.deploy.nginx.listen;
  const flags = derive(d).webFlags.map((f) => String(f.value));
  const rt = spawn(process.execPath, [BUNDLE, "serve", "--bind", `127.0.0.1:${appPort}`, ...flags, d.app], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  started.push(rt);
  const log = { rt: "" };
  rt.stderr!.on("data", (c) => (log.rt += c));
  const direct = new http.Agent({ keepAlive: false });
  await until(`runtime on ${appPort}`, 15000, async () => (await get(appPort, "/readyz", direct)).status === 200).catch((e) => {
    throw new Error(`${e.message}\n${log.rt}`);
  });
  const conf = renderFiles(d, { targets: ["nginx"] })[0].content;
  const { proc: ng, log: ngLog } = startNginx(conf, dir);
  started.push(ng);
  await until(`nginx on ${nginxPort}`, 15000, async () => (await get(nginxPort, "/livez", agent)).status === 200).catch((e) => {
    throw new Error(`${e.message}\n${ngLog.text}`);
  });
  return { rt, ng, log, nginxPort };
}

test("nginx → runtime: headers, keep-alive reuse, readiness", { skip: !fs.existsSync(BUNDLE) && "runtime bundle not built" }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-proxy-"));
  fs.writeFileSync(
    path.join(dir, "app.mjs"),
    `export default (req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ host: req.headers.host, xff: req.headers["x-forwarded-for"], proto: req.headers["x-forwarded-proto"],
    fhost: req.headers["x-forwarded-host"], connection: req.headers.connection ?? null, peer: req.socket.remotePort }));
};\n`,
  );
  const [appPort, nginxPort] = [await freePort(), await freePort()];
  const d = validateDescription({ name: "proxy-test", app: "app.mjs", port: appPort, processes: { web: { workers: 2 } }, deploy: { nginx: { listen: nginxPort } } });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { rt, ng, log } = await startProxyPair(d, dir, agent);

  const ready = await get(nginxPort, "/readyz", agent);
  assert.equal(ready.status, 200);
  assert.match(ready.body, /ready/);

  const peers = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const r = await get(nginxPort, "/", agent);
    assert.equal(r.status, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.host, "example.test");
    assert.equal(j.xff, "127.0.0.1");
    assert.equal(j.proto, "http");
    assert.equal(j.fhost, "example.test");
    assert.notEqual(j.connection, "close", "a close Connection header would defeat upstream keep-alive");
    peers.add(j.peer);
  }
  // Sequential requests over one nginx worker reuse the pooled upstream connection.
  assert.ok(peers.size <= 2, `expected upstream connection reuse, saw ${peers.size} upstream connections`);
  agent.destroy();

  ng.kill("SIGQUIT");
  rt.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => (rt.exitCode !== null ? r(rt.exitCode) : rt.once("exit", (c) => r(c))));
  assert.equal(code, 0, log.rt);
});

test("nginx → runtime under keep-alive load across three HUP reloads: no failed GET or POST", { skip: !fs.existsSync(BUNDLE) && "runtime bundle not built" }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-proxy-hup-"));
  fs.writeFileSync(path.join(dir, "app.mjs"), `export default (req, res) => { let n = 0; req.on("data", (c) => (n += c.length)); req.on("end", () => res.end(req.method + " " + n)); };\n`);
  const [appPort, nginxPort] = [await freePort(), await freePort()];
  const d = validateDescription({ name: "proxy-hup", app: "app.mjs", port: appPort, processes: { web: { workers: 2, keepalive: 2 } }, deploy: { nginx: { listen: nginxPort } } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const { rt, ng, log } = await startProxyPair(d, dir, agent);

  const send = (method: string) =>
    new Promise<number>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port: nginxPort, path: "/x", method, agent, headers: { "content-type": "text/plain" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode!));
      });
      req.setTimeout(10000, () => req.destroy());
      req.on("error", () => resolve(0));
      req.end(method === "POST" ? "payload" : undefined);
    });
  const statuses = new Map<number, number>();
  let total = 0;
  let stop = false;
  const clients = Array.from({ length: 8 }, async (_, i) => {
    while (!stop) {
      const s = await send(i % 2 ? "POST" : "GET");
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
      total++;
      // Idle gaps so pooled upstream connections also sit idle around the keep-alive timeouts.
      if (total % 50 === 0) await new Promise((r) => setTimeout(r, 1500 + (i % 4) * 150));
    }
  });
  // A bounded run (not a speed assertion): three reloads while the clients keep going.
  for (const wait of [1500, 2500, 2500]) {
    await new Promise((r) => setTimeout(r, wait));
    rt.kill("SIGHUP");
  }
  stop = true;
  await Promise.all(clients);
  agent.destroy();
  ng.kill("SIGQUIT");
  rt.kill("SIGTERM");
  await new Promise((r) => (rt.exitCode !== null ? r(null) : rt.once("exit", r)));
  assert.ok(total > 100, `only ${total} requests`);
  assert.deepEqual([...statuses.keys()], [200], `statuses ${JSON.stringify([...statuses])} over ${total} requests\n${log.rt.slice(-2000)}`);
});
