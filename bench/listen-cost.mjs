#!/usr/bin/env node
// What listen mode costs per request, measured where the machine's noise cannot decide it
// (issue 8 item 5, "listen mode costs ≤ 5 % vs handler mode"):
//
//   npm run build && node bench/listen-cost.mjs     (about 4 minutes)
//
// One server process at a time, pinned to CPU 0 (`taskset -c 0`), wrk pinned to CPU 1, so the
// server's req/s is the inverse of its CPU time per request and nothing else competes for its
// core. Three servers of test/corpus/express-listen (`app.listen(process.env.PORT || 3000)`):
// `node index.js`; prodserver listen mode (`serve -w 1 -- index.js`); prodserver handler mode
// (`serve -w 1 app.cjs#default`, the same app exporting itself: bench/apps/express-app.cjs). Each
// round runs the three in an order rotated by the round; per server: a 2 s warm-up, then wrk -t1
// -c$CONNS -d${DURATION}s keep-alive. Reported: medians of the rounds and the median of per-round
// ratios ("paired"). Writes its section of bench/RESULTS.md (OUT=file elsewhere).
//
// Environment (defaults): ROUNDS=7 DURATION=5 CONNS=16 PORT=18190 NODE=this node
// Needs: taskset (util-linux), wrk, 2+ CPUs, the npm registry (npm ci of the corpus app into a temp dir).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = path.resolve(import.meta.dirname, "..");
const E = process.env;
const ROUNDS = Number(E.ROUNDS ?? 7);
const DURATION = Number(E.DURATION ?? 5);
const CONNS = Number(E.CONNS ?? 16);
const PORT = Number(E.PORT ?? 18190);
const NODE = E.NODE ?? process.execPath;
const OUT = E.OUT ?? path.join(ROOT, "bench/RESULTS.md");
const RUNTIME = path.join(ROOT, "dist/prodserver-runtime.mjs");
const URL_ = `http://127.0.0.1:${PORT}/`;
const MARK_START = "<!-- bench/listen-cost.mjs:start -->";
const MARK_END = "<!-- bench/listen-cost.mjs:end -->";
const say = (m) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

if (os.availableParallelism() < 2) throw new Error("bench: needs 2 CPUs (the server on one, wrk on the other)");
for (const tool of ["taskset", "wrk"]) execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
if (!fs.existsSync(RUNTIME)) throw new Error(`bench: ${RUNTIME} missing: npm run build`);

// The corpus app, as committed, with its dependencies; plus the handler-mode copy of its app.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-listen-cost-"));
process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
for (const f of execFileSync("git", ["-C", ROOT, "ls-files", "test/corpus/express-listen"], { encoding: "utf8" }).split("\n").filter(Boolean)) {
  fs.copyFileSync(path.join(ROOT, f), path.join(dir, path.basename(f)));
}
fs.copyFileSync(path.join(ROOT, "bench/apps/express-app.cjs"), path.join(dir, "app.cjs"));
say(`npm ci in ${dir}`);
execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "inherit" });

const serve = (...app) => [RUNTIME, "serve", "-w", "1", "-b", `127.0.0.1:${PORT}`, ...app];
const SERVERS = [
  { name: "node index.js", argv: ["index.js"] },
  { name: "prodserver listen", argv: serve("--", "index.js") },
  { name: "prodserver handler", argv: serve("app.cjs#default") },
];

/** wrk pinned to CPU 1; req/s. */
function wrk(secs) {
  const out = execFileSync("taskset", ["-c", "1", "wrk", "-t1", `-c${CONNS}`, `-d${secs}s`, URL_], { encoding: "utf8" });
  const errors = /Socket errors|Non-2xx/.test(out);
  if (errors) throw new Error(`bench: wrk saw errors:\n${out}`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
}

async function measure(server) {
  const child = spawn("taskset", ["-c", "0", NODE, ...server.argv], { cwd: dir, env: { ...E, PORT: String(PORT) }, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let err = "";
  child.stderr.on("data", (c) => (err += c));
  try {
    const deadline = Date.now() + 20000;
    for (;;) {
      const ok = await fetch(URL_)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`bench: ${server.name} did not answer:\n${err}`);
      await sleep(100);
    }
    wrk(2);
    return wrk(DURATION);
  } finally {
    process.kill(-child.pid, "SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
  }
}

const rps = new Map(SERVERS.map((s) => [s.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  const order = SERVERS.map((_, i) => SERVERS[(i + r) % SERVERS.length]);
  for (const s of order) {
    const v = await measure(s);
    rps.get(s.name)[r] = v;
    say(`round ${r + 1}/${ROUNDS} ${s.name}: ${v.toFixed(0)} req/s`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (x) => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)} %`;
const med = (n) => median(rps.get(n));
const paired = (a, b) => median(rps.get(a).map((v, i) => v / rps.get(b)[i])) - 1;
const cpuUs = (n) => 1e6 / med(n);
const load = os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
const commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
const nodeV = execFileSync(NODE, ["--version"], { encoding: "utf8" }).trim();
const costPaired = paired("prodserver listen", "prodserver handler");
const lines = [
  MARK_START,
  "",
  "## What listen mode costs per request: one pinned worker (issue 8 item 5)",
  "",
  `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC by \`node bench/listen-cost.mjs\`, commit ${commit}, node ${nodeV}: one server process pinned to CPU 0, wrk -t1 -c${CONNS} -d${DURATION}s keep-alive pinned to CPU 1, ${ROUNDS} rounds (order rotated each round), load average ${load} at the end. test/corpus/express-listen, \`GET /\` → \`Hello World!\`. With its core to itself, a server's req/s is the inverse of its CPU time per request.`,
  "",
  "| server | req/s (median) | CPU µs per request | × node index.js (paired) | per round |",
  "|---|---|---|---|---|",
  ...SERVERS.map(
    (s) =>
      `| ${s.name} | ${med(s.name).toFixed(0)} | ${cpuUs(s.name).toFixed(1)} | ${s.name === "node index.js" ? "1.00" : (1 + paired(s.name, "node index.js")).toFixed(3)} | ${rps
        .get(s.name)
        .map((v) => v.toFixed(0))
        .join(" ")} |`,
  ),
  "",
  `Listen mode vs handler mode: ${pct(med("prodserver listen") / med("prodserver handler") - 1)} on medians, ${pct(costPaired)} paired; target ≤ 5 %: **${costPaired >= -0.05 ? "met" : "not met"}**.`,
  "",
  MARK_END,
];
const text = fs.existsSync(OUT) ? fs.readFileSync(OUT, "utf8") : "";
const a = text.indexOf(MARK_START);
const b = text.indexOf(MARK_END);
const next = a >= 0 && b > a ? text.slice(0, a) + lines.join("\n") + text.slice(b + MARK_END.length) : `${text.trimEnd()}\n\n${lines.join("\n")}\n`;
fs.writeFileSync(OUT, next);
say(`wrote ${OUT}`);
console.log(lines.join("\n"));
