// The generated units pass `systemd-analyze verify` (systemd 252) with no warnings at all.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";

/**
 * Write the systemd files of `raw` into a temp dir and verify them. verify exits 0 even for
 * unknown keys or unparsable values (it only logs them), so callers must also require empty
 * output. ExecStart's binary must exist: nodePath defaults to /usr/bin/node, present here.
 */
export function verifyUnits(raw: object, mutate: (s: string) => string = (s) => s) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-systemd-"));
  const files = renderFiles(validateDescription({ deploy: { systemd: { workingDirectory: dir } }, ...raw }), { targets: ["systemd"] });
  const paths = files.map((f) => {
    const p = path.join(dir, path.basename(f.path));
    fs.writeFileSync(p, mutate(f.content));
    return p;
  });
  const r = spawnSync("systemd-analyze", ["verify", ...paths], { encoding: "utf8", env: { ...process.env, SYSTEMD_LOG_LEVEL: "notice" } });
  return { status: r.status, output: (r.stdout + r.stderr).trim(), files, dir };
}

test("systemd-analyze verify: web service + socket, no warnings", () => {
  const r = verifyUnits({ name: "express-hello", app: "dist/app.js#app", processes: { web: { workers: 2, accesslog: "-" } } });
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, "");
});

test("systemd-analyze verify: worker process units too", () => {
  const r = verifyUnits({ name: "shop", app: "app.js", processes: { worker: { command: "node dist/jobs.js --queue default" }, mailer: { command: "/usr/bin/env node mail.js" } } });
  assert.deepEqual(r.files.map((f) => f.path).sort(), ["deploy/systemd/shop-mailer.service", "deploy/systemd/shop-worker.service", "deploy/systemd/shop.service", "deploy/systemd/shop.socket"]);
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, "");
});

test("the check can fail: an unknown key or a bad value is caught by the empty-output rule", () => {
  const r = verifyUnits({ name: "x", app: "app.js" }, (s) => s.replace("KillMode=mixed", "KillMode=bogus"));
  assert.match(r.output, /kill mode/i);
  const missing = verifyUnits({ name: "y", app: "app.js", deploy: { systemd: { nodePath: "/nonexistent/node" } } });
  assert.notEqual(missing.status, 0);
});

test("the web unit: socket activation, stop timeout above graceful_timeout, hardening, no MemoryDenyWriteExecute", () => {
  const { files } = verifyUnits({ name: "web", app: "app.js", port: 8123, processes: { web: { graceful_timeout: 42 } } });
  const svc = files.find((f) => f.path.endsWith("web.service"))!.content;
  const sock = files.find((f) => f.path.endsWith("web.socket"))!.content;
  // The runtime from the app's installed dependencies, under WorkingDirectory.
  const wd = /^WorkingDirectory=(.+)$/m.exec(svc)![1];
  assert.ok(svc.includes(`\nExecStart=/usr/bin/node ${wd}/node_modules/prodserver/dist/prodserver-runtime.mjs serve --bind fd://3 --graceful-timeout 42 app.js\n`), svc);
  assert.match(svc, /^TimeoutStopSec=47$/m);
  assert.match(svc, /^KillMode=mixed$/m);
  assert.match(svc, /^Type=notify\nNotifyAccess=all$/m, "the runtime notifies through systemd-notify, a child process");
  assert.match(svc, /^ExecReload=\/usr\/bin\/node -e "process\.kill\(Number\(process\.argv\[1\]\), 'SIGHUP'\)" \$MAINPID$/m, "no /bin/kill (procps)");
  assert.match(svc, /^Restart=on-failure$/m);
  assert.match(svc, /^CapabilityBoundingSet=$/m);
  for (const k of [
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "SystemCallFilter=@system-service",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
  ]) {
    assert.ok(svc.includes(`\n${k}\n`), k);
  }
  assert.doesNotMatch(svc, /^MemoryDenyWriteExecute=/m, "breaks V8's JIT");
  assert.match(sock, /^ListenStream=127\.0\.0\.1:8123$/m);
});

test("an extra bind on a port < 1024 grants only CAP_NET_BIND_SERVICE", () => {
  const r = verifyUnits({ name: "low", app: "app.js", processes: { web: { bind: "0.0.0.0:443" } } });
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, "");
  const svc = r.files.find((f) => f.path.endsWith("low.service"))!.content;
  assert.match(svc, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  assert.match(svc, /--bind fd:\/\/3 --bind 0\.0\.0\.0:443 /);
});

test("an app under /home keeps ProtectHome=read-only (yes would hide WorkingDirectory)", () => {
  const home = verifyUnits({ name: "h", app: "app.js", deploy: { systemd: { workingDirectory: "/home/deploy/h" } } });
  assert.equal(home.status, 0, home.output);
  assert.match(home.files[0].content, /^ProtectHome=read-only$/m);
  const srv = verifyUnits({ name: "s", app: "app.js" });
  assert.match(srv.files[0].content, /^ProtectHome=yes$/m);
});

test("log files, the pidfile and unix sockets keep their directories writable under ProtectSystem=strict", () => {
  const r = verifyUnits({
    name: "rw",
    app: "app.js",
    processes: { web: { accesslog: "/var/log/rw app/access.log", errorlog: "logs/error.log", pidfile: "/run/rw/rw.pid", bind: ["unix:/run/rw/rw.sock"] } },
    deploy: { systemd: { workingDirectory: "/srv/rw" } },
  });
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, "");
  const rw = r.files[0].content.split("\n").filter((l) => l.startsWith("ReadWritePaths="));
  assert.deepEqual(rw, ['ReadWritePaths="-/var/log/rw app"', 'ReadWritePaths="-/srv/rw/logs"', 'ReadWritePaths="-/run/rw"']);
});
