// Real nginx (generated include) in front of the real runtime (dist/prodserver-runtime.mjs serve),
// loopback only: deploy.nginx.static is served by nginx without reaching the runtime; two runtimes
// as two upstreams survive one being stopped; a WebSocket handshake passes through nginx to the app.
// Every process is started here and stopped by PID.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";
import { freePort } from "../support/net.js";
import { startNginx, started, stopStarted } from "../support/nginx.js";
import { httpGet, until } from "../support/net.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BUNDLE = path.join(ROOT, "dist/prodserver-runtime.mjs");
const skip = !fs.existsSync(BUNDLE) && "runtime bundle not built";
after(stopStarted);

const get = (port: number, p: string, agent?: http.Agent) => httpGet(port, p, { agent });

/** A temp dir readable by nginx's unprivileged worker (mkdtemp makes 0700). */
function tempDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `prodserver-${tag}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Start `serve app` (1 worker) on 127.0.0.1:port with TAG=<port> in its environment; resolves once /readyz is 200. */
async function runtime(dir: string, port: number, app: string): Promise<{ proc: ChildProcess; log: { text: string } }> {
  const proc = spawn(process.execPath, [BUNDLE, "serve", "--bind", `127.0.0.1:${port}`, "--workers", "1", "--graceful-timeout", "5", app], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, TAG: String(port) },
  });
  started.push(proc);
  const log = { text: "" };
  proc.stderr!.on("data", (c) => (log.text += c));
  await until(`runtime on ${port}`, 15000, async () => (await get(port, "/readyz")).status === 200).catch((e) => {
    throw new Error(`${e.message}\n${log.text}`);
  });
  return { proc, log };
}

/** Start nginx with the include rendered from `raw` (its `nginx` key becomes deploy.nginx) on a free loopback port. */
async function nginx(raw: { nginx?: object } & Record<string, unknown>, dir: string): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const { nginx: n, ...rest } = raw;
  const d = validateDescription({ ...rest, deploy: { nginx: { ...n, listen: port } } });
  const conf = renderFiles(d, { targets: ["nginx"] })[0].content;
  const { proc, log } = startNginx(conf, dir);
  started.push(proc);
  await until(`nginx on ${port}`, 15000, async () => (await get(port, "/livez")).status === 200).catch((e) => {
    throw new Error(`${e.message}\n${log.text}`);
  });
  return { proc, port };
}

const exited = (p: ChildProcess) => new Promise<number | null>((r) => (p.exitCode !== null || p.signalCode !== null ? r(p.exitCode) : p.once("exit", (c) => r(c))));

test("static: nginx serves deploy.nginx.static from disk (the runtime never sees it); X-Request-Id reaches the app", { skip }, async () => {
  const dir = tempDir("static");
  fs.writeFileSync(
    path.join(dir, "app.mjs"),
    `let seen = 0;\nexport default (req, res) => { if (req.url.startsWith("/static/")) seen++;\n` +
      `  res.end(req.url === "/seen" ? String(seen) : "runtime " + (req.headers["x-request-id"] ?? "-")); };\n`,
  );
  fs.mkdirSync(path.join(dir, "public/static"), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(dir, "public/static/hello.txt"), "from disk\n", { mode: 0o644 });
  const appPort = await freePort();
  await runtime(dir, appPort, "app.mjs");
  const ng = await nginx({ name: "live-static", app: "app.mjs", port: appPort, nginx: { static: [{ location: "/static/", root: path.join(dir, "public") }] } }, dir);

  const file = await get(ng.port, "/static/hello.txt");
  assert.equal(file.status, 200);
  assert.equal(file.body, "from disk\n");
  assert.ok(file.headers.expires, "expires 7d sets an Expires header");
  assert.equal((await get(ng.port, "/static/missing.txt")).status, 404, "try_files: a missing static file is nginx's 404");
  const app = await get(ng.port, "/other");
  assert.match(app.body, /^runtime [0-9a-f]{32}$/, "nginx's $request_id arrives as X-Request-Id");
  assert.equal((await get(appPort, "/seen")).body, "0", "no /static/ request reached the runtime");
  ng.proc.kill("SIGQUIT");
  await exited(ng.proc);
});

test("failover: two runtimes as two upstreams, one stopped by SIGTERM: GETs keep succeeding", { skip }, async (t) => {
  const dir = tempDir("failover");
  fs.writeFileSync(path.join(dir, "app.mjs"), `export default (req, res) => res.end(String(process.env.TAG));\n`);
  const [a, b] = [await freePort(), await freePort()];
  const rtA = await runtime(dir, a, "app.mjs");
  const rtB = await runtime(dir, b, "app.mjs");
  const ng = await nginx({ name: "live-failover", app: "app.mjs", port: a, nginx: { upstreams: [`127.0.0.1:${a}`, `127.0.0.1:${b}`] } }, dir);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  type Count = { ok: number; failed: number; statuses: Map<string, number> };
  const served = { before: new Set<string>(), after: new Set<string>() };
  let phase: keyof typeof served = "before";
  const one = async (into: Count) => {
    let key: string;
    try {
      const r = await get(ng.port, "/", agent);
      key = String(r.status);
      served[phase].add(r.body);
    } catch (e) {
      key = (e as Error).message;
    }
    into.statuses.set(key, (into.statuses.get(key) ?? 0) + 1);
    if (key === "200") into.ok++;
    else into.failed++;
  };
  // Before: both upstreams answer (round robin).
  const before = { ok: 0, failed: 0, statuses: new Map<string, number>() };
  for (let i = 0; i < 40; i++) await one(before);
  assert.equal(before.failed, 0, JSON.stringify([...before.statuses]));
  assert.deepEqual([...served.before].sort(), [String(a), String(b)].sort(), "both upstreams served (round robin)");

  // During: 4 clients keep going while runtime A drains and exits (bounded by A's exit).
  const during = { ok: 0, failed: 0, statuses: new Map<string, number>() };
  let stop = false;
  const clients = Array.from({ length: 4 }, async () => {
    while (!stop) await one(during);
  });
  await new Promise((r) => setTimeout(r, 300));
  rtA.proc.kill("SIGTERM");
  const codeA = await exited(rtA.proc);
  stop = true;
  await Promise.all(clients);

  // After A's exit is noticed: every request must succeed (nginx: connect refused → next upstream).
  phase = "after";
  const afterStop = { ok: 0, failed: 0, statuses: new Map<string, number>() };
  for (let i = 0; i < 200; i++) await one(afterStop);
  agent.destroy();
  t.diagnostic(
    `before: ${before.ok} ok; during A's drain: ${during.ok} ok, ${during.failed} failed ${JSON.stringify([...during.statuses])}; after A exited: ${afterStop.ok} ok, ${afterStop.failed} failed`,
  );
  assert.equal(codeA, 0, rtA.log.text);
  assert.equal(afterStop.failed, 0, JSON.stringify([...afterStop.statuses]) + "\n" + rtB.log.text);
  assert.deepEqual([...served.after], [String(b)], "only B serves after A exited");
  assert.equal(during.failed, 0, JSON.stringify([...during.statuses]));
  assert.equal((await get(b, "/readyz")).status, 200, "B still serves directly");
  ng.proc.kill("SIGQUIT");
  await exited(ng.proc);
});

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A fixture that answers the WebSocket handshake by hand (RFC 6455 §4.2.2) and sends one text frame. */
const WS_APP = `import crypto from "node:crypto";
export default (req, res) => res.end("plain http");
export function upgrade(req, socket) {
  const accept = crypto.createHash("sha1").update(req.headers["sec-websocket-key"] + "${GUID}").digest("base64");
  socket.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: " + accept + "\\r\\n\\r\\n");
  const text = Buffer.from("hello over " + (req.headers["x-forwarded-for"] ? "nginx" : "direct"));
  socket.end(Buffer.concat([Buffer.from([0x81, text.length]), text]));
}
`;

/** Do a WebSocket handshake with node:http's 'upgrade' event; resolve the 101 headers and the first frame. */
function wsHandshake(port: number): Promise<{ status: number; accept: string | undefined; expected: string; frame: Buffer }> {
  const key = crypto.randomBytes(16).toString("base64");
  const expected = crypto
    .createHash("sha1")
    .update(key + GUID)
    .digest("base64");
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/ws", headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13" } });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.on("response", (res) => resolve({ status: res.statusCode!, accept: undefined, expected, frame: Buffer.alloc(0) }));
    req.on("upgrade", (res, socket, head) => {
      const chunks: Buffer[] = [head];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => resolve({ status: res.statusCode!, accept: res.headers["sec-websocket-accept"] as string, expected, frame: Buffer.concat(chunks) }));
      socket.on("error", reject);
    });
    req.end();
  });
}

test("WebSocket: the handshake and one frame pass through nginx to the runtime; no upgrade handler → 501", { skip }, async () => {
  const dir = tempDir("ws");
  fs.writeFileSync(path.join(dir, "ws.mjs"), WS_APP);
  fs.writeFileSync(path.join(dir, "plain.mjs"), `export default (req, res) => res.end("plain");\n`);
  const appPort = await freePort();
  await runtime(dir, appPort, "ws.mjs");
  const ng = await nginx({ name: "live-ws", app: "ws.mjs", port: appPort }, dir);

  const r = await wsHandshake(ng.port);
  assert.equal(r.status, 101);
  assert.equal(r.accept, r.expected, "Sec-WebSocket-Accept = base64(sha1(key + GUID))");
  assert.equal(r.frame[0], 0x81, "FIN + text opcode");
  assert.equal(r.frame.subarray(2, 2 + r.frame[1]).toString(), "hello over nginx");
  assert.equal((await get(ng.port, "/")).body, "plain http", "plain requests still work");

  const plainPort = await freePort();
  await runtime(dir, plainPort, "plain.mjs");
  const no = await wsHandshake(plainPort);
  assert.equal(no.status, 501, "an app without an upgrade handler answers 501");
  ng.proc.kill("SIGQUIT");
  await exited(ng.proc);
});

test("WebSocket: an exported http.Server's own 'upgrade' listener gets the upgrade", { skip }, async () => {
  const dir = tempDir("ws-server");
  fs.writeFileSync(
    path.join(dir, "srv.mjs"),
    WS_APP.replace(
      'export default (req, res) => res.end("plain http");',
      `import http from "node:http";\nconst server = http.createServer((req, res) => res.end("plain http"));\nserver.on("upgrade", (req, socket) => upgrade(req, socket));\nexport default server;`,
    ).replace("export function upgrade", "function upgrade"),
  );
  const appPort = await freePort();
  await runtime(dir, appPort, "srv.mjs");
  const r = await wsHandshake(appPort);
  assert.equal(r.status, 101);
  assert.equal(r.accept, r.expected);
  assert.equal(r.frame.subarray(2).toString(), "hello over direct");
});
