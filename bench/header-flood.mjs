// Header flood (issue 11 item 1): CONNS connections each send a request head of ~795 KB that
// never ends (97 header lines of 8190 bytes with their CRLF, within the default limits) to a
// server on loopback, while a normal client measures its latency and the workers' RSS is sampled.
//
//   node bench/header-flood.mjs PORT ARBITER_PID [CONNS=1000] [SECONDS=20] [IDLE_SECONDS=5]
//
// Prints one JSON object: the workers' RSS before and at peak (MiB), the normal client's p50/p99
// (ms) idle and during the flood, its failed requests, and what happened to the flood's connections.
// The normal client runs in a process of its own (the flood keeps this one's event loop busy).
// Bounded in time: the flood stops after SECONDS, every socket it opened is destroyed.
import fs from "node:fs";
import http from "node:http";
import net from "node:net";

if (process.argv[2] === "--client") {
  // The normal client's process: measure until the given time, print the summary.
  const [port, until] = process.argv.slice(3).map(Number);
  console.log(JSON.stringify(await normalClient(port, until)));
  process.exit(0);
}

const [port, arbiter, conns = 1000, seconds = 20, idleSeconds = 5] = process.argv.slice(2).map(Number);
if (!port || !arbiter) {
  console.error("usage: node bench/header-flood.mjs PORT ARBITER_PID [CONNS] [SECONDS] [IDLE_SECONDS]");
  process.exit(2);
}

/** Resident set size of every child of the arbiter (its workers), in MiB, by pid. */
function workerRss() {
  const out = {};
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = fs.readFileSync(`/proc/${d}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== arbiter) continue;
      out[d] = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
    } catch {
      /* exited */
    }
  }
  return out;
}

/** A normal client: one GET on a fresh connection after another, until `until`; latencies in ms. */
async function normalClient(port, until) {
  const lat = [];
  let failed = 0;
  while (Date.now() < until) {
    const t0 = process.hrtime.bigint();
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      });
      req.setTimeout(10000, () => req.destroy());
      req.on("error", () => resolve(false));
    });
    if (ok) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    else failed++;
    await new Promise((r) => setTimeout(r, 10));
  }
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2)) : null);
  return { requests: lat.length + failed, failed, p50: q(0.5), p99: q(0.99) };
}

const LINE = 8190; // bytes of a header line with its CRLF (limit_request_field_size's default)
const LINES = 97; // 97 x 8190 + the request line = ~795 KB
function floodHead(i) {
  const parts = [Buffer.from(`GET /flood/${i} HTTP/1.1\r\nHost: x\r\n`)];
  for (let n = 0; n < LINES; n++) {
    const name = `X-Flood-${String(n).padStart(3, "0")}: `;
    parts.push(Buffer.from(name + "v".repeat(LINE - name.length - 2) + "\r\n"));
  }
  return parts; // no empty line: the head never ends
}
const HEAD = floodHead(0);
const HEAD_BYTES = HEAD.reduce((n, b) => n + b.length, 0);

/** Open CONNS connections, each writing the endless head with backpressure; stop at `until`. */
function flood(until) {
  const stats = { opened: 0, refusedWithStatus: {}, closedByServer: 0, bytesSent: 0, stillOpen: 0 };
  const socks = new Set();
  for (let i = 0; i < conns; i++) {
    const s = net.connect(port, "127.0.0.1");
    stats.opened++;
    socks.add(s);
    let got = "";
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      socks.delete(s);
      if (Date.now() >= until) return;
      stats.closedByServer++;
      const status = /^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? "none";
      stats.refusedWithStatus[status] = (stats.refusedWithStatus[status] ?? 0) + 1;
    });
    s.on("connect", async () => {
      for (const part of HEAD) {
        if (s.destroyed || Date.now() >= until) return;
        stats.bytesSent += part.length;
        if (!s.write(part)) await new Promise((r) => (s.once("drain", r), s.once("close", r)));
      }
    });
  }
  return {
    stats,
    stop() {
      stats.stillOpen = socks.size;
      for (const s of socks) s.destroy();
    },
  };
}

/** Run the normal client in its own process until `until`; resolves with its summary. */
function client(until) {
  return new Promise((resolve, reject) => {
    import("node:child_process").then(({ execFile }) =>
      execFile(process.execPath, [new URL(import.meta.url).pathname, "--client", String(port), String(until)], { timeout: until - Date.now() + 30000 }, (e, out) =>
        e ? reject(e) : resolve(JSON.parse(out)),
      ),
    );
  });
}

const base = workerRss();
const idle = await client(Date.now() + idleSeconds * 1000);
const until = Date.now() + seconds * 1000;
const f = flood(until);
const peak = { ...base };
const sampler = setInterval(() => {
  for (const [pid, mib] of Object.entries(workerRss())) peak[pid] = Math.max(peak[pid] ?? 0, mib);
}, 100);
const during = await client(until);
clearInterval(sampler);
f.stop();
const growth = Object.fromEntries(Object.keys(base).map((pid) => [pid, Number(((peak[pid] ?? 0) - base[pid]).toFixed(1))]));
const round = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v.toFixed(1))]));
console.log(
  JSON.stringify(
    {
      conns,
      headBytes: HEAD_BYTES,
      seconds,
      rssBeforeMiB: round(base),
      rssPeakMiB: round(Object.fromEntries(Object.keys(base).map((p) => [p, peak[p] ?? 0]))),
      rssGrowthMiB: growth,
      maxGrowthMiB: Math.max(...Object.values(growth)),
      idle,
      during,
      p99Ratio: idle.p99 && during.p99 ? Number((during.p99 / idle.p99).toFixed(2)) : null,
      flood: { ...f.stats, bytesSent: Math.round(f.stats.bytesSent / 2 ** 20) + " MiB" },
    },
    null,
    2,
  ),
);
process.exit(0);
