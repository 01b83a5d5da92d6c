// Socket activation as the generated units do it: systemd-socket-activate (systemd's own tool for
// this) listens like <name>.socket and execs the web unit's ExecStart argv with LISTEN_FDS=1 and the
// socket as fd 3; the real runtime must serve on `--bind fd://3`, report READY=1 / STOPPING=1 to
// NOTIFY_SOCKET (Type=notify) and stop cleanly on SIGTERM.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/net.js";
import { validateDescription } from "../../src/description/index.js";
import { derive } from "../../src/generate/index.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BUNDLE = path.join(ROOT, "dist/prodserver-runtime.mjs");
const ACTIVATE = "/usr/bin/systemd-socket-activate";
const started: ChildProcess[] = [];
after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.setTimeout(10000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

const ready = fs.existsSync(BUNDLE) && fs.existsSync(ACTIVATE);

test("the web unit's ExecStart serves on the socket systemd passes as fd 3", { skip: !ready && "needs the runtime bundle and systemd-socket-activate" }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-sockact-"));
  fs.writeFileSync(path.join(dir, "app.mjs"), `export const app = (req, res) => res.end("via fd 3 " + req.url);\n`);
  const port = await freePort();
  const d = validateDescription({ name: "sockact", app: "app.mjs#app", port, processes: { web: { workers: 2, graceful_timeout: 5 } } });
  // The unit's argv, with this machine's node and bundle in place of the installed paths.
  const argv = derive(d).systemdWebExec.map((s) => String(s.value));
  // The runtime comes from the app's installed dependencies, under WorkingDirectory.
  const installed = `${d.deploy.systemd.workingDirectory}/node_modules/prodserver/dist/prodserver-runtime.mjs`;
  assert.deepEqual(argv.slice(0, 5), [d.deploy.systemd.nodePath, installed, "serve", "--bind", "fd://3"]);
  argv[0] = process.execPath;
  argv[1] = BUNDLE;
  // Type=notify: a datagram socket standing in for systemd's notify socket (Node has no AF_UNIX dgram).
  const notifySocket = path.join(dir, "notify.sock");
  const rx = spawn("python3", ["-u", "-c", NOTIFY_RECEIVER, notifySocket], { stdio: ["ignore", "pipe", "pipe"] });
  started.push(rx);
  let notes = "";
  rx.stdout!.on("data", (c) => (notes += c));
  for (let i = 0; i < 100 && !notes.includes("bound"); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(notes, /bound/);
  // -E: the activator passes only TERM/PATH/HOME and LISTEN_* on to the child (as systemd would set NOTIFY_SOCKET).
  const p = spawn(ACTIVATE, ["-l", `127.0.0.1:${port}`, "-E", `NOTIFY_SOCKET=${notifySocket}`, "--", ...argv], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
  });
  started.push(p);
  let err = "";
  p.stderr!.on("data", (c) => (err += c));
  // systemd-socket-activate binds before exec'ing the runtime on the first connection; poll (bounded).
  let first: { status: number; body: string } | null = null;
  for (let i = 0; i < 100 && !first; i++) {
    try {
      first = await get(port, "/one");
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(first, `no answer on ${port}\n${err}`);
  assert.equal(first.status, 200, err);
  assert.equal(first.body, "via fd 3 /one");
  assert.equal((await get(port, "/readyz")).status, 200);
  for (let i = 0; i < 10; i++) assert.equal((await get(port, `/n${i}`)).body, `via fd 3 /n${i}`);
  for (let i = 0; i < 100 && !/READY=1/.test(notes); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(notes, /READY=1/, "Type=notify needs READY=1 (sent through systemd-notify, hence NotifyAccess=all)");
  // The activator exec'd the runtime in place: its PID is now the arbiter (process title set by the runtime).
  assert.match(spawnSync("ps", ["-o", "args=", "-p", String(p.pid)], { encoding: "utf8" }).stdout, /^prodserver: arbiter/);
  p.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once("exit", (c) => r(c))));
  assert.equal(code, 0, err);
  assert.match(notes, /STOPPING=1/);
  rx.kill("SIGTERM");
});

/** Print every datagram received on argv[1] (one line each) after printing "bound". */
const NOTIFY_RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound")
s.settimeout(60)
while True:
    print(s.recv(65536).decode().replace("\\n", " "))
`;
