// reuse_port (Gunicorn 24+'s semantics): each worker binds its own SO_REUSEPORT socket and the
// kernel spreads connections across them; on Node.js < 22.12 the setting is refused by name.
// The main suite runs on Node 20 (the refusal); CI runs this file again on Node 24 (the sockets).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { reusePortUnsupported } from "../../runtime/listeners.js";
import { APPS, BUNDLE, ROOT, get, killAll, run, start, waitFor, withTimeout, workerPids, workersMatch } from "./runtime-support.js";

after(killAll);

const unsupported = reusePortUnsupported();
const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const noNetns = process.getuid?.() !== 0 ? "needs root for a network namespace of its own" : ["unshare", "wrk", "curl", "ip"].find((c) => !has(c));

/** Inodes of the sockets in LISTEN state on TCP `port` (from /proc/net/tcp and tcp6). */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of fs.readFileSync(f, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue;
      if (parseInt(cols[1].split(":").pop()!, 16) === port) out.add(cols[9]);
    }
  }
  return out;
}

/** Socket inodes a process has open. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** pid -> how many of `n` fresh connections it answered. */
async function spread(url: string, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get(`${url}/pid`);
    assert.equal(r.status, 200);
    seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
  }
  return seen;
}

describe("reuse_port", { timeout: 90000 }, () => {
  test("is refused on a Node.js without SO_REUSEPORT support, naming the setting", { skip: unsupported === null && `Node.js ${process.versions.node} supports it` }, async () => {
    const s = run(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "--reuse-port"]);
    assert.equal((await withTimeout(s.exited, 10000, "exit")).code, 1);
    assert.match(s.stderr(), /reuse_port \(from command line\): needs Node\.js >= 22\.12/);
  });

  test("the Node.js versions and platforms that have it", () => {
    for (const v of ["20.19.0", "22.11.0", "23.0.0"]) assert.match(reusePortUnsupported(v, "linux") ?? "", new RegExp(`needs Node\\.js >= 22\\.12.*v${v.replace(/\./g, "\\.")}`));
    for (const v of ["22.12.0", "23.1.0", "24.0.0", "25.2.1"]) assert.equal(reusePortUnsupported(v, "linux"), null);
    assert.match(reusePortUnsupported("24.0.0", "darwin") ?? "", /not available on darwin/);
  });

  test("without it every worker accepts on the arbiter's one socket (the control)", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "-w", "2"], { workers: 2 });
    const port = Number(new URL(s.url).port);
    const inodes = listeningInodes(port);
    assert.equal(inodes.size, 1);
    const [inode] = inodes;
    for (const pid of [s.pid, ...workerPids(s.pid)]) assert.ok(socketInodes(pid).has(inode), `pid ${pid} holds the shared socket`);
    assert.equal((await s.stop()).code, 0);
  });

  test("each worker listens on its own SO_REUSEPORT socket, connections spread over them, replacements bind again", { skip: unsupported ?? false }, async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "-w", "2", "--reuse-port"], { workers: 2 });
    assert.match(s.stderr(), /Listening at: http:\/\/127\.0\.0\.1:\d+ \(\d+\) \(reuse_port: one SO_REUSEPORT socket per worker\)/);
    const port = Number(new URL(s.url).port);
    const owners = () => {
      const inodes = [...listeningInodes(port)];
      return inodes.map((i) => [s.pid, ...workerPids(s.pid)].filter((pid) => socketInodes(pid).has(i)));
    };
    await waitFor(() => owners().length === 2, 10000, "two listening sockets");
    const workers = workerPids(s.pid);
    // One socket per worker, held by that worker only (the arbiter's own socket is bound, not listening).
    assert.deepEqual(
      owners().map((o) => o.length),
      [1, 1],
    );
    assert.deepEqual(
      owners()
        .flat()
        .sort((a, b) => a - b),
      workers,
    );

    const seen = await spread(s.url, 200);
    assert.deepEqual(
      [...seen.keys()].map(Number).sort((a, b) => a - b),
      workers,
    );
    for (const [pid, n] of seen) assert.ok(n >= 40, `worker ${pid} answered only ${n} of 200 new connections`);

    // A killed worker's socket goes with it; the replacement binds its own on the same port.
    process.kill(workers[0], "SIGKILL");
    // One reading of the workers for the whole check: a worker still exiting drops out of /proc
    // before its socket closes, so separate readings could pair the survivor with a dying socket.
    await waitFor(
      () => workersMatch(s.pid, (now) => now.length === 2 && !now.includes(workers[0]) && owners().filter((o) => o.some((pid) => now.includes(pid))).length === 2),
      20000,
      "replacement listening",
    );
    await waitFor(async () => (await get(`${s.url}/readyz`).catch(() => null))?.status === 200, 10000, "readyz");
    const after = await spread(s.url, 60);
    assert.equal(after.size, 2, `both workers answer after the replacement: ${JSON.stringify([...after])}`);

    // TTIN: one more worker, one more socket.
    process.kill(s.pid, "SIGTTIN");
    await waitFor(() => owners().length === 3, 20000, "a third listening socket after TTIN");
    assert.equal((await s.stop()).code, 0);
    assert.equal(listeningInodes(port).size, 0);
  });

  test("zero failed requests across two HUP reloads, a new connection per request (own netns, tcp_migrate_req=1)", { skip: unsupported ?? noNetns ?? false }, () => {
    // New workers bind their sockets before the old ones stop accepting; were it the other way
    // round, wrk would see connection refusals (the arbiter's own socket never listens).
    const r = spawnSync("unshare", ["-n", path.join(ROOT, "test/support/netns-reload.sh"), process.execPath, BUNDLE, path.join(APPS, "node-listener.mjs") + "#app"], {
      encoding: "utf8",
      timeout: 60000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out);
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    assert.ok(requests > 1000, `wrk made only ${requests} requests\n${out}`);
    assert.doesNotMatch(out, /Socket errors|Non-2xx/, out);
    assert.equal(out.match(/Reload complete/g)?.length, 2, out);
  });
});
