// reuse_port (Gunicorn 24+'s semantics, nginx's `reuseport`): each worker accepts on a SO_REUSEPORT
// socket of its own slot, held by the arbiter, and the kernel spreads connections across them; a
// replacement takes over its predecessor's socket; on Node.js < 22.12 the setting is refused by name.
// The main suite runs on Node 20 (the refusal); CI runs this file again on Node 24 (the sockets).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import http from "node:http";
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

/** pid -> how many of `n` keep-alive connections, opened all at once, it answered first. */
async function keepAliveSpread(url: string, n: number): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const one = () =>
    new Promise<string>((resolve, reject) => {
      http
        .get(`${url}/pid`, { agent }, (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve(body));
        })
        .on("error", reject);
    });
  try {
    const seen = new Map<string, number>();
    for (const pid of await Promise.all(Array.from({ length: n }, one))) seen.set(pid, (seen.get(pid) ?? 0) + 1);
    return seen;
  } finally {
    agent.destroy();
  }
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

  test("each worker slot has its own SO_REUSEPORT socket held by the arbiter; connections spread; a replacement takes over its predecessor's socket; TTIN/TTOU add and close one", {
    skip: unsupported ?? false,
  }, async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "-w", "2", "--reuse-port"], { workers: 2 });
    assert.match(s.stderr(), /Listening at: http:\/\/127\.0\.0\.1:\d+ \(\d+\) \(reuse_port: one SO_REUSEPORT socket per worker slot\)/);
    const port = Number(new URL(s.url).port);
    /** Listening socket inode -> the workers that hold it (every one is also the arbiter's). */
    const holders = () => {
      const out = new Map<string, number[]>();
      const listening = listeningInodes(port);
      const arbiter = socketInodes(s.pid);
      // Read again: a socket the arbiter closed (TTOU) between the two readings is not a finding.
      const still = listeningInodes(port);
      for (const i of [...listening].filter((i) => still.has(i))) {
        assert.ok(arbiter.has(i), `the arbiter holds listening socket ${i}`);
        out.set(
          i,
          workerPids(s.pid).filter((pid) => socketInodes(pid).has(i)),
        );
      }
      return out;
    };
    const workers = workerPids(s.pid);
    const before = holders();
    assert.equal(before.size, 2);
    assert.deepEqual(
      [...before.values()].map((w) => w.length),
      [1, 1],
    );
    assert.deepEqual(
      [...before.values()].flat().sort((a, b) => a - b),
      workers,
    );

    const fresh = await spread(s.url, 200);
    for (const [pid, n] of fresh) assert.ok(n >= 40, `worker ${pid} answered only ${n} of 200 new connections`);
    // The case the shared socket gets wrong: a burst of keep-alive connections (a load balancer's
    // pool, wrk) is split by the kernel's hash, not by which worker woke first.
    const burst = await keepAliveSpread(s.url, 64);
    assert.deepEqual(
      [...burst.keys()].map(Number).sort((a, b) => a - b),
      workers,
    );
    for (const [pid, n] of burst) assert.ok(n >= 16, `worker ${pid} took only ${n} of 64 keep-alive connections opened at once: ${JSON.stringify([...burst])}`);

    // A killed worker's socket stays (the arbiter holds it); its replacement accepts on it.
    const [victimInode] = [...before].find(([, w]) => w[0] === workers[0])!;
    process.kill(workers[0], "SIGKILL");
    await waitFor(
      () => workersMatch(s.pid, (now) => now.length === 2 && !now.includes(workers[0]) && (holders().get(victimInode) ?? []).some((pid) => now.includes(pid))),
      20000,
      "the replacement accepting on the killed worker's socket",
    );
    assert.deepEqual([...holders().keys()].sort(), [...before.keys()].sort(), "the same two sockets");
    await waitFor(async () => (await get(`${s.url}/readyz`).catch(() => null))?.status === 200, 10000, "readyz");
    const after = await spread(s.url, 60);
    assert.equal(after.size, 2, `both workers answer after the replacement: ${JSON.stringify([...after])}`);

    // TTIN: a third slot, a third socket; TTOU: its worker goes first and the socket closes.
    process.kill(s.pid, "SIGTTIN");
    await waitFor(() => [...holders().values()].filter((w) => w.length === 1).length === 3, 20000, "three sockets, each with its worker, after TTIN");
    const three = holders();
    process.kill(s.pid, "SIGTTOU");
    await waitFor(() => holders().size === 2 && workerPids(s.pid).length === 2, 20000, "two sockets and two workers after TTOU");
    assert.ok(
      [...holders().keys()].every((i) => three.has(i)),
      "TTOU closed the third slot's socket and kept the others",
    );
    assert.equal((await s.stop()).code, 0);
    assert.equal(listeningInodes(port).size, 0);
  });

  test("zero failed requests across two HUP reloads, a new connection per request, without tcp_migrate_req (own netns)", { skip: unsupported ?? noNetns ?? false }, () => {
    // The old worker of a slot stops accepting while connections keep arriving on its socket;
    // they wait there for the slot's new worker. Were the socket the old worker's own (Gunicorn
    // 24), closing it would reset them unless net.ipv4.tcp_migrate_req=1; here the sysctl is 0.
    const r = spawnSync("unshare", ["-n", path.join(ROOT, "test/support/netns-reload.sh"), process.execPath, BUNDLE, path.join(APPS, "node-listener.mjs") + "#app"], {
      env: { ...process.env, MIGRATE: "0" },
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
