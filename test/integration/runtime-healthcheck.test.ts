// `prodserver healthcheck` exit codes against real servers, and `main` run directly vs imported.
import assert from "node:assert/strict";
import { spawnSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { BUNDLE, MAIN_JS, APPS, killAll, start, waitFor, withTimeout } from "./runtime-support.js";

after(killAll);

function healthcheck(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BUNDLE, "healthcheck", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stderr }));
  });
}

function listen(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as net.AddressInfo).port }));
  });
}

describe("runtime healthcheck", { timeout: 60000 }, () => {
  test("exit 0 on a ready server (default URL from PORT), 1 with a reason otherwise", async () => {
    const s = await start(["serve", "fetch-fn.mjs", "-b", "127.0.0.1:0"]);
    const port = new URL(s.url).port;
    assert.equal((await healthcheck([], { PORT: port })).code, 0);
    assert.equal((await healthcheck(["--url", `${s.url}/livez`])).code, 0);
    await s.stop("SIGTERM");
    const refused = await healthcheck(["--url", `http://127.0.0.1:${port}/readyz`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^healthcheck: http:\/\/127\.0\.0\.1:\d+\/readyz: ECONNREFUSED/);
    assert.equal(refused.stderr.trim().split("\n").length, 1, "one line");
  });

  test("non-2xx answers and timeouts exit 1", async () => {
    const { server, port } = await listen((req, res) => {
      if (req.url === "/hang") return; // never answers
      res.statusCode = req.url === "/ok" ? 204 : 503;
      res.end();
    });
    try {
      assert.equal((await healthcheck(["--url", `http://127.0.0.1:${port}/ok`])).code, 0);
      const bad = await healthcheck(["--url", `http://127.0.0.1:${port}/readyz`]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /answered 503 Service Unavailable/);
      const hang = await healthcheck(["--url", `http://127.0.0.1:${port}/hang`, "--timeout", "0.5"]);
      assert.equal(hang.code, 1);
      assert.match(hang.stderr, /no answer within 0\.5s/);
      const usage = await healthcheck(["--timeout", "soon"]);
      assert.equal(usage.code, 1);
      assert.match(usage.stderr, /--timeout: expected a positive number/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe("runtime main entry", { timeout: 60000 }, () => {
  test("dist/runtime/main.js and the bundle run when executed directly, also through a symlink", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-entry-"));
    const link = path.join(dir, "prodserver.mjs");
    fs.symlinkSync(BUNDLE, link);
    for (const entry of [MAIN_JS, BUNDLE, link]) {
      const r = spawnSync(process.execPath, [entry, "serve", "x.mjs", "--print-config", "-w", "5"], { encoding: "utf8", cwd: APPS });
      assert.equal(r.status, 0, `${entry}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).workers, 5, entry);
    }
    const bad = spawnSync(process.execPath, [BUNDLE, "frobnicate"], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown subcommand "frobnicate"/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("importing the module does not run it; main() serves in-process and workers fork from the module file", async () => {
    const imported = spawnSync(process.execPath, ["--input-type=module", "-e", `import(${JSON.stringify(MAIN_JS)}).then(m => console.log(typeof m.main, m.isMainModule()))`], {
      encoding: "utf8",
      cwd: APPS,
    });
    assert.equal(imported.status, 0, imported.stderr);
    assert.equal(imported.stdout.trim(), "function false");
    // A host script (like the CLI) calling main(["serve", ...]) in-process.
    const host = `import { main } from ${JSON.stringify(MAIN_JS)}; process.exitCode = await main(["serve", "fetch-fn.mjs", "-b", "127.0.0.1:0", "-w", "2"]);`;
    const p = spawn(process.execPath, ["--input-type=module", "-e", host], { cwd: APPS, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => p.on("exit", (c) => r(c)));
    await waitFor(() => /Ready: 2 worker\(s\) serving/.test(err), 20000, "in-process serve").catch((e: Error) => {
      throw new Error(`${e.message}\n${err}`);
    });
    const url = /Listening at: (http:\/\/\S+)/.exec(err)![1];
    await waitFor(
      async () =>
        (await fetch(`${url}/readyz`)
          .then((r) => r.status)
          .catch(() => 0)) === 200,
      10000,
      "ready",
    );
    assert.equal(await (await fetch(`${url}/a`)).text(), "hello from fetch /a");
    p.kill("SIGTERM");
    assert.equal(await withTimeout(exited, 15000, "host exit"), 0);
  });
});
