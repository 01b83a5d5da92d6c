// The generated systemd units and nginx site where users run them: a Debian host in a container
// with systemd as PID 1 and Debian's stock nginx (test/support/debian-host.ts), no procps. The
// example Express app (dependencies installed on this host, prodserver's runtime where installing
// the prodserver package puts it: node_modules/prodserver/dist/prodserver-runtime.mjs) is
// bind-mounted at the unit's WorkingDirectory; the generated units and site are installed
// unmodified, the site with the install commands its own header gives.
// Requests are made from inside the container (the socket is loopback-only there).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { detectProject, validateDescription, type Description, type DescriptionInput } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";
import { DebianHost, debianHostImage } from "../support/debian-host.js";
import { REPO_ROOT, RUNTIME_BUNDLE, dockerSkip, scratchCopy } from "../support/docker.js";

const EXPOSURE = 1.3;
let host: DebianHost;
let app: string;
let base: DescriptionInput;
const dirs: string[] = [];

before(async () => {
  if (dockerSkip) return;
  app = await scratchCopy(path.join(REPO_ROOT, "examples/express-app"), "debian-host");
  dirs.push(app);
  const ci = spawnSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--silent"], { cwd: app, encoding: "utf8" });
  assert.equal(ci.status, 0, ci.stderr);
  // The runtime is one dependency-free file in the prodserver package: the built one, where npm puts it.
  fs.mkdirSync(path.join(app, "node_modules/prodserver/dist"), { recursive: true });
  fs.copyFileSync(RUNTIME_BUNDLE, path.join(app, "node_modules/prodserver/dist/prodserver-runtime.mjs"));
  // A second process type: logs while it runs, exits 0 on SIGTERM.
  fs.writeFileSync(
    path.join(app, "src/worker.mjs"),
    'console.log("worker up as uid", process.getuid());\nconst t = setInterval(() => console.log("tick"), 500);\n' +
      'process.on("SIGTERM", () => { clearInterval(t); console.log("worker stopping"); process.exit(0); });\n',
  );
  spawnSync("chmod", ["-R", "a+rX", app]); // mkdtemp makes 0700; the services run as www-data / node
  const { description } = await detectProject(app);
  base = { ...description, processes: { ...description.processes, worker: { command: "node src/worker.mjs" } } };
  host = await DebianHost.boot(
    debianHostImage(),
    [`${app}:/srv/express-hello:ro`, `${path.join(REPO_ROOT, "test/fixtures/host-client.mjs")}:/opt/prodserver-test/client.mjs:ro`],
    `prodserver-deploy-host-${process.pid}`,
  );
});

after(() => {
  host?.remove();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Install the systemd files rendered from `raw`, unmodified, and reload systemd. */
function installUnits(raw: DescriptionInput): Description {
  const d = validateDescription(raw);
  for (const f of renderFiles(d, { targets: ["systemd"] })) host.write(`/etc/systemd/system/${path.basename(f.path)}`, f.content);
  host.sh("systemctl daemon-reload");
  return d;
}

/** Run the client inside the host; parses its JSON. */
function client(...args: string[]): any {
  const out = host.sh(`node /opt/prodserver-test/client.mjs ${args.map((a) => `'${a}'`).join(" ")}`);
  return JSON.parse(out);
}

/** Uid and NoNewPrivs/Seccomp/CapEff of a process in the host, from /proc. */
function procStatus(pid: string | number): Record<string, string> {
  const out = host.sh(`cat /proc/${pid}/status`);
  return Object.fromEntries(
    out
      .split("\n")
      .filter((l) => l.includes(":"))
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
}

/** `systemd-analyze security` of a loaded unit: its overall exposure. */
function exposure(unit: string): number {
  const out = host.run(["systemd-analyze", "security", "--no-pager", unit]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(out.stdout + out.stderr);
  assert.ok(m, out.stdout + out.stderr);
  return Number(m[1]);
}

const skip = dockerSkip;

test("socket activation: the socket starts alone, the first request starts the Type=notify service, sandboxed", { skip }, () => {
  installUnits(base);
  host.sh("systemctl start express-hello.socket");
  assert.equal(host.show("express-hello.service", "ActiveState").ActiveState, "inactive");
  const first = client("get", "http://127.0.0.1:3000/");
  assert.equal(first.status, 200, JSON.stringify(first));
  assert.equal(JSON.parse(first.body).hello, "world");
  const s = host.show("express-hello.service", "ActiveState", "StatusText", "MainPID");
  assert.equal(s.ActiveState, "active");
  assert.match(s.StatusText, /^serving with \d+ worker\(s\)$/, "READY=1 with a status reached systemd (Type=notify, NotifyAccess=all)");
  assert.match(host.sh("journalctl -u express-hello.service --no-pager"), /from systemd socket activation \(LISTEN_FDS\)/);
  const p = procStatus(s.MainPID);
  assert.equal(p.Uid.split(/\s+/)[0], host.sh("id -u www-data").trim(), "User=www-data");
  assert.equal(p.NoNewPrivs, "1");
  assert.equal(p.Seccomp, "2", "SystemCallFilter in effect");
  assert.equal(p.CapEff, "0000000000000000");
});

/** Poll (bounded) until the unit's ActiveState is `state`; returns how long it took, ms. */
async function waitState(unit: string, state: string, ms = 60_000): Promise<number> {
  const t = Date.now();
  while (host.show(unit, "ActiveState").ActiveState !== state) {
    if (Date.now() - t > ms) assert.fail(`${unit} did not become ${state} within ${ms} ms: ${JSON.stringify(host.show(unit, "ActiveState", "StatusText"))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - t;
}

test("systemctl reload under load: 0 failed requests, same arbiter, new workers, no /bin/kill on the host", { skip }, async () => {
  assert.notEqual(host.run(["test", "-e", "/bin/kill"]).status, 0, "procps is not installed");
  const before = host.show("express-hello.service", "MainPID").MainPID;
  const old = new Set(Object.keys(client("load", "http://127.0.0.1:3000/", "1", "true").pids));
  const r = client("load", "http://127.0.0.1:3000/", "8", "systemctl", "reload", "express-hello.service");
  assert.equal(r.command.status, 0, r.command.output);
  assert.equal(r.failed, 0, JSON.stringify(r.errors));
  assert.ok(r.ok > 100, `only ${r.ok} requests`);
  // `systemctl reload` returns once the signal is sent; the runtime reports RELOADING=1, then READY=1
  // when the new workers serve (Type=notify).
  await waitState("express-hello.service", "active");
  const after = host.show("express-hello.service", "MainPID", "StatusText");
  assert.equal(after.MainPID, before, "HUP reloads in place");
  assert.match(after.StatusText, /^reloaded: generation 1 serving$/);
  const now = Object.keys(client("load", "http://127.0.0.1:3000/", "1", "true").pids);
  assert.ok(
    now.every((p) => !old.has(p)),
    `new workers serve: before ${[...old]}, after ${now}`,
  );
  console.log(`# reload under load: ${r.ok} requests, ${r.failed} failed; systemctl reload returned in ${r.command.ms} ms`);
});

test("systemctl stop with a request in flight: the request gets 200, the service stops cleanly", { skip }, () => {
  const r = client("inflight", "http://127.0.0.1:3000/slow?ms=2000", "300", "systemctl", "stop", "express-hello.service");
  assert.equal(r.reply.status, 200, JSON.stringify(r.reply));
  assert.equal(JSON.parse(r.reply.body).sleptMs, 2000);
  assert.equal(r.command.status, 0, r.command.output);
  const s = host.show("express-hello.service", "ActiveState", "Result", "ExecMainStatus");
  assert.deepEqual(s, { ActiveState: "inactive", Result: "success", ExecMainStatus: "0" });
  // The socket outlived the service: the next request starts it again.
  assert.equal(client("get", "http://127.0.0.1:3000/").status, 200);
});

test("a second process type's unit starts sandboxed as the unit's user and stops cleanly", { skip }, () => {
  host.sh("systemctl start express-hello-worker.service");
  const s = host.show("express-hello-worker.service", "ActiveState", "MainPID");
  assert.equal(s.ActiveState, "active");
  const p = procStatus(s.MainPID);
  assert.equal(p.Uid.split(/\s+/)[0], host.sh("id -u www-data").trim());
  assert.equal(p.NoNewPrivs, "1");
  host.sh("sleep 1 && systemctl stop express-hello-worker.service");
  const stopped = host.show("express-hello-worker.service", "ActiveState", "Result", "ExecMainStatus");
  assert.deepEqual(stopped, { ActiveState: "inactive", Result: "success", ExecMainStatus: "0" });
  const journal = host.sh("journalctl -u express-hello-worker.service --no-pager");
  assert.match(journal, /worker up as uid \d+/);
  assert.match(journal, /worker stopping/);
});

test(`systemd-analyze security of the loaded units: exposure <= ${EXPOSURE}`, { skip }, () => {
  for (const unit of ["express-hello.service", "express-hello-worker.service"]) {
    const e = exposure(unit);
    console.log(`# exposure ${unit}: ${e}`);
    assert.ok(e <= EXPOSURE, `${unit}: ${e}`);
  }
});

test("with processes.web.user/group the units run as that identity; start, reload and stop still work", { skip }, async () => {
  host.sh("systemctl stop express-hello.socket express-hello.service");
  const web = { ...(base.processes?.web ?? {}), user: "node", group: "node" };
  installUnits({ ...base, processes: { ...base.processes, web } });
  assert.match(host.sh("cat /etc/systemd/system/express-hello.service"), /^User=node\nGroup=node$/m);
  host.sh("systemctl start express-hello.socket");
  const first = client("get", "http://127.0.0.1:3000/");
  assert.equal(first.status, 200, JSON.stringify(first));
  const uid = host.sh("id -u node").trim();
  const main = host.show("express-hello.service", "MainPID").MainPID;
  assert.equal(procStatus(main).Uid.split(/\s+/)[0], uid, "the arbiter");
  assert.equal(procStatus(JSON.parse(first.body).pid).Uid.split(/\s+/)[0], uid, "a worker");
  const r = client("load", "http://127.0.0.1:3000/", "3", "systemctl", "reload", "express-hello.service");
  assert.equal(r.command.status, 0, r.command.output);
  assert.equal(r.failed, 0, JSON.stringify(r.errors));
  await waitState("express-hello.service", "active");
  assert.ok(exposure("express-hello.service") <= EXPOSURE);
  host.sh("systemctl stop express-hello.service");
  assert.equal(host.show("express-hello.service", "Result").Result, "success");
  // Back to the default identity for the nginx tests.
  installUnits(base);
  host.sh("systemctl restart express-hello.socket");
});

/** Write the nginx site rendered from `nginx` under /root/app and run the install commands its header gives. */
function installSite(nginx: object): { conf: string; status: number | null; output: string } {
  const d = validateDescription({ ...base, deploy: { ...base.deploy, nginx } });
  const [f] = renderFiles(d, { targets: ["nginx"] });
  host.sh(`mkdir -p /root/app/${path.dirname(f.path)}`);
  host.write(`/root/app/${f.path}`, f.content);
  const steps = f.content.split("\n").slice(f.content.split("\n").findIndex((l) => /Install on Debian/.test(l)) + 1);
  const commands = steps.filter((l) => l.startsWith("#   ")).map((l) => l.slice(4).replace(/\s+#.*$/, ""));
  assert.ok(commands.length >= 3, f.content);
  const r = host.run(["sh", "-ec", `cd /root/app && ${commands.join(" && ")}`]);
  return { conf: f.content, status: r.status, output: r.stdout + r.stderr };
}

test("stock Debian nginx, default site enabled: a site with server names serves the app for those names only", { skip }, () => {
  assert.equal(host.sh("systemctl is-active nginx").trim(), "active");
  assert.ok(host.run(["test", "-L", "/etc/nginx/sites-enabled/default"]).status === 0, "Debian's default site is enabled");
  const r = installSite({ serverName: "example.com www.example.com" });
  assert.equal(r.status, 0, r.output);
  // `systemctl reload nginx` returns once nginx has the signal: workers of the old configuration may
  // answer a moment longer (seen once on a loaded machine), so wait for the new site to be served.
  const until = Date.now() + 10_000;
  while (!client("get", "http://127.0.0.1/", "example.com").body.includes('"hello"') && Date.now() < until) host.sh("sleep 0.2");
  for (const name of ["example.com", "www.example.com"]) {
    const res = client("get", "http://127.0.0.1/", name);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).hello, "world", `${name}: ${res.body.slice(0, 200)}`);
    assert.equal(res.headers.server, "nginx", "server_tokens off");
    assert.equal(res.headers["referrer-policy"], "no-referrer", "the app's own header (helmet) wins, once");
  }
  assert.match(client("get", "http://127.0.0.1/", "other.example").body, /Welcome to nginx/, "other names still get Debian's default site");
  const big = client("get", "http://127.0.0.1/slow?ms=0", "example.com", "gzip");
  assert.equal(big.headers["content-encoding"], "gzip");
  if (host.sh("cat /proc/net/if_inet6").trim()) assert.equal(JSON.parse(client("get", "http://[::1]/", "example.com").body).hello, "world", "IPv6 listen");
});

test("stock Debian nginx: server_name _ makes the site the default server; the install steps disable Debian's default site", { skip }, () => {
  host.sh("rm -f /etc/nginx/sites-enabled/express-hello.conf && nginx -t && systemctl reload nginx");
  // Left enabled beside Debian's default site, nginx refuses the pair loudly (no silent welcome page).
  const d = validateDescription(base);
  const [f] = renderFiles(d, { targets: ["nginx"] });
  host.write("/etc/nginx/sites-enabled/express-hello.conf", f.content);
  const clash = host.run(["nginx", "-t"]);
  assert.notEqual(clash.status, 0);
  assert.match(clash.stderr, /duplicate default server/);
  host.sh("rm /etc/nginx/sites-enabled/express-hello.conf");
  const r = installSite({});
  assert.equal(r.status, 0, r.output);
  assert.ok(host.run(["test", "-e", "/etc/nginx/sites-enabled/default"]).status !== 0);
  for (const name of ["anything.example", "127.0.0.1"]) assert.equal(JSON.parse(client("get", "http://127.0.0.1/", name).body).hello, "world");
});
