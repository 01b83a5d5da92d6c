// `serve --print-config` / `--check-config` as real processes, with settings from every layer.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { APPS, BUNDLE } from "./runtime-support.js";

function serve(args: string[], env: NodeJS.ProcessEnv = {}, cwd = APPS) {
  return spawnSync(process.execPath, [BUNDLE, "serve", ...args], { cwd, encoding: "utf8", timeout: 20000, env: { ...process.env, PORT: "", WEB_CONCURRENCY: "", PRODSERVER_CMD_ARGS: "", ...env } });
}

describe("runtime serve --print-config / --check-config", { timeout: 60000 }, () => {
  test("--print-config prints the resolved settings as JSON (file < env < argv) and exits 0", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-pc-"));
    fs.writeFileSync(path.join(dir, "ps.json"), JSON.stringify({ app: "a.js#app", workers: 2, keepalive: 9, max_requests: 100 }));
    const r = serve(["--print-config", "-c", "ps.json", "--max-requests", "7"], { WEB_CONCURRENCY: "4", PRODSERVER_CMD_ARGS: "--timeout 12" }, dir);
    assert.equal(r.status, 0, r.stderr);
    const cfg = JSON.parse(r.stdout);
    assert.equal(cfg.app, "a.js#app");
    assert.equal(cfg.workers, 4);
    assert.equal(cfg.keepalive, 9);
    assert.equal(cfg.timeout, 12);
    assert.equal(cfg.max_requests, 7);
    assert.equal(cfg.config, path.join(dir, "ps.json"));
    assert.ok(!("print_config" in cfg));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("--check-config loads the app: 0 when it loads, 1 with the module named when it does not", () => {
    const ok = serve(["hono-app.mjs", "--check-config"]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /configuration OK/);
    const bad = serve(["throws-at-import.mjs", "--check-config"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /importing the app module failed: fixture: database URL missing .*module \/\S+throws-at-import\.mjs/);
    assert.match(bad.stderr, /at connectToDatabase/);
    const badSetting = serve(["hono-app.mjs", "--check-config", "--keep-alive=-1"]);
    assert.equal(badSetting.status, 1);
    assert.match(badSetting.stderr, /keepalive \(from command line\): must be between 0 and 3600, got -1/);
    const noApp = serve(["--check-config"]);
    assert.equal(noApp.status, 1);
    assert.match(noApp.stderr, /app: no app given/);
  });
});
