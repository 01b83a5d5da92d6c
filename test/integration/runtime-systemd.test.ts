// systemd: Type=notify messages (through systemd-notify, received on a real unix datagram
// socket), LISTEN_FDS socket activation, and the pidfile.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { APPS, BUNDLE, get, killAll, run, start, waitFor, withTimeout, workerPids } from "./runtime-support.js";

after(killAll);

const haveTools = spawnSync("systemd-notify", ["--version"]).status === 0 && spawnSync("python3", ["--version"]).status === 0;
const RECEIVER = `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(65536).decode(errors="replace").replace("\\n", "|"), flush=True)
`;

describe("runtime systemd integration", { timeout: 60000 }, () => {
  test("Type=notify: READY=1 once workers serve, RELOADING=1 (+MONOTONIC_USEC) and READY=1 on HUP, STOPPING=1", { skip: !haveTools && "needs systemd-notify and python3" }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-notify-"));
    const sock = path.join(dir, "notify.sock");
    fs.writeFileSync(path.join(dir, "recv.py"), RECEIVER);
    const recv = spawn("python3", [path.join(dir, "recv.py"), sock], { stdio: ["ignore", "pipe", "inherit"] });
    let msgs = "";
    recv.stdout.on("data", (d) => (msgs += d));
    try {
      await waitFor(() => msgs.includes("bound"), 5000, "the receiver");
      const s = run(["serve", "node-listener.mjs#app", "-w", "2", "-b", "127.0.0.1:0"], { env: { NOTIFY_SOCKET: sock } });
      await waitFor(() => msgs.includes("READY=1"), 10000, "READY=1");
      // When READY=1 arrives, both workers already serve.
      const url = /Listening at: (http:\/\/\S+)/.exec(s.stderr())![1];
      assert.equal(workerPids(s.pid).length, 2);
      assert.equal((await get(`${url}/readyz`)).status, 200);
      assert.match(msgs, /READY=1\|STATUS=serving with 2 worker\(s\)/);
      process.kill(s.pid, "SIGHUP");
      await waitFor(() => /RELOADING=1\|MONOTONIC_USEC=\d+\|STATUS=reloading/.test(msgs), 10000, "RELOADING=1");
      await waitFor(() => /READY=1\|STATUS=reloaded: generation 1 serving/.test(msgs), 10000, "READY=1 after reload");
      assert.equal((await s.stop("SIGTERM")).code, 0);
      await waitFor(() => /STOPPING=1/.test(msgs), 5000, "STOPPING=1");
      const order = ["READY=1|STATUS=serving", "RELOADING=1", "READY=1|STATUS=reloaded", "STOPPING=1"].map((m) => msgs.indexOf(m));
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        order,
        msgs,
      );
    } finally {
      recv.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("LISTEN_FDS socket activation: workers accept on the inherited socket, bind is ignored", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    // LISTEN_PID must be the arbiter's own pid: let sh set it and exec node in its place.
    const p = spawn("sh", ["-c", `LISTEN_PID=$$ exec "${process.execPath}" "${BUNDLE}" serve fetch-fn.mjs -w 2 -b 127.0.0.1:1`], {
      cwd: APPS,
      env: { ...process.env, LISTEN_FDS: "1" },
      stdio: ["ignore", "ignore", "pipe", fd],
    });
    server.close(); // the child holds its own copy; the test process must not accept
    let err = "";
    p.stderr!.on("data", (d) => (err += d));
    const exited = new Promise((r) => p.on("exit", (c) => r(c)));
    try {
      await waitFor(async () => (await get(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 10000, "ready on the activated socket");
      assert.equal((await get(`http://127.0.0.1:${port}/via-systemd`)).body, "hello from fetch /via-systemd");
      assert.match(err, /Using 1 socket\(s\) from systemd socket activation/);
      assert.match(err, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} `));
      assert.doesNotMatch(err, /127\.0\.0\.1:1\b/);
      p.kill("SIGTERM");
      assert.equal(await withTimeout(exited, 15000, "exit"), 0);
    } finally {
      if (p.exitCode === null) p.kill("SIGKILL");
    }
  });

  test("pidfile: written with the arbiter pid, a second arbiter refuses to start, removed at exit", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-pid-"));
    const pidfile = path.join(dir, "app.pid");
    const s = await start(["serve", "fetch-fn.mjs", "-b", "127.0.0.1:0", "--pid", pidfile]);
    assert.equal(fs.readFileSync(pidfile, "utf8").trim(), String(s.pid));
    const second = run(["serve", "fetch-fn.mjs", "-b", "127.0.0.1:0", "-p", pidfile]);
    assert.equal((await withTimeout(second.exited, 10000, "second exit")).code, 1);
    assert.match(second.stderr(), new RegExp(`pidfile: already running on PID ${s.pid}`));
    assert.equal((await s.stop()).code, 0);
    assert.equal(fs.existsSync(pidfile), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
