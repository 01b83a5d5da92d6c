/**
 * The CLI's habits through the real `prodserver` process (no Docker Engine needed): --version,
 * help for every command, typo suggestions, the exit-code table, --json records (errors
 * included), no terminal escapes off a terminal (NO_COLOR / FORCE_COLOR), and `prodserver serve`
 * without APP in a project folder serving what its description says.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, httpGet } from "../support/net.js";
import { killAll, start } from "./runtime-support.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// The published bins (package.json "bin"), bundled by src/bundle.mjs: what users run, so a
// bundling fault (a chunk that does not parse) fails here, not first in a registry install.
const CLI = path.join(root, "dist/pkg/prodserver.mjs");
const CREATE = path.join(root, "dist/pkg/create.mjs");
const VERSION = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
const ESC = "\x1b";
/** The environment of every run: no colour forced either way, no CI detection, no runtime settings. */
const BASE_ENV: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined, CI: undefined, PORT: "", WEB_CONCURRENCY: "", PRODSERVER_CMD_ARGS: "" };

function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; script?: string } = {}) {
  const r = spawnSync(process.execPath, [opts.script ?? CLI, ...args], {
    cwd: opts.cwd ?? os.tmpdir(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000,
    env: { ...BASE_ENV, ...opts.env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** stdout as JSON records; fails the test when a line is not JSON. */
function records(out: string): Array<Record<string, any>> {
  return out
    .trimEnd()
    .split("\n")
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        assert.fail(`not a JSON line: ${l}`);
      }
    });
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of an example app with its description and deploy files written by `create-prodserver --yes`. */
function project(example = "express-app", edit?: (config: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-cli-conv-"));
  dirs.push(dir);
  fs.cpSync(path.join(root, "examples", example), dir, { recursive: true, filter: (src) => !src.includes("node_modules") });
  // --no-install: prodserver itself is not on a registry yet; these tests run the repo's CLI.
  const c = run(["--yes", "--no-install", "--no-verify"], { cwd: dir, script: CREATE });
  assert.equal(c.code, 0, c.err);
  if (edit) {
    const file = path.join(dir, "prodserver.config.mjs");
    fs.writeFileSync(file, edit(fs.readFileSync(file, "utf8")));
  }
  return dir;
}

describe("conventions", () => {
  test("--version prints package.json's version; -h and every command's --help exit 0", () => {
    assert.deepEqual(run(["--version"]), { code: 0, out: `${VERSION}\n`, err: "" });
    const help = run(["-h"]);
    assert.equal(help.code, 0, help.err);
    for (const cmd of ["init", "generate", "build", "check", "serve", "healthcheck"]) assert.match(help.out, new RegExp(`prodserver ${cmd}\\b`));
    const asked = [...["init", "generate", "build", "check", "serve", "healthcheck"].map((c) => [c, "--help"]), ["build", "-h"], ["healthcheck", "-h"]];
    for (const [cmd, flag] of asked) {
      const r = run([cmd, flag]);
      assert.equal(r.code, 0, `prodserver ${cmd} ${flag}: ${r.err}`);
      assert.match(r.out, new RegExp(`prodserver ${cmd}`), `prodserver ${cmd} ${flag} prints its usage`);
    }
    assert.match(run(["serve", "--help"]).out, /--graceful-timeout/, "serve's help lists the runtime's settings");
    assert.match(run(["build", "--help"]).out, /--offline/);
    const create = run(["-h"], { script: CREATE });
    assert.equal(create.code, 0, create.err);
    assert.match(create.out, /--yes/);
  });

  test("a typo is a usage error (exit 2) with a suggestion, for commands and for flags, without a stack", () => {
    const cmd = run(["biuld"]);
    assert.equal(cmd.code, 2);
    assert.match(cmd.err, /unknown command "biuld"; did you mean "build"\?/);
    const flag = run(["build", "--ofline", "--no-smok"]);
    assert.equal(flag.code, 2);
    assert.match(flag.err, /--ofline \(did you mean --offline\?\)/);
    assert.match(flag.err, /--no-smok \(did you mean --no-smoke\?\)/);
    const none = run([]);
    assert.equal(none.code, 2);
    assert.match(none.err, /no command given/);
    for (const r of [cmd, flag, none]) assert.doesNotMatch(r.err, /^\s+at /m, "no stack trace");
    const json = run(["check", "--jsn", "--json"]);
    assert.equal(json.code, 2);
    const recs = records(json.out);
    assert.deepEqual(
      recs.map((r) => r.type),
      ["error", "result"],
    );
    assert.equal(recs[0].kind, "usage");
    assert.match(recs[0].message, /--jsn \(did you mean --json\?\)/);
    assert.deepEqual(recs[1], { type: "result", command: "check", ok: false, exitCode: 2, kind: "usage" });
  });

  test("exit codes: no description 10, invalid description 10 naming the field (JSON: the issues), drift 11, engine unreachable 13", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-cli-conv-empty-"));
    dirs.push(empty);
    const none = run(["check"], { cwd: empty });
    assert.equal(none.code, 10, none.err);
    assert.match(none.err, /^prodserver: no project description in /);

    const invalid = project("express-app", (c) => c.replace("port: 3000", "port: 70000"));
    const human = run(["check"], { cwd: invalid });
    assert.equal(human.code, 10);
    assert.match(human.err, /port/);
    assert.doesNotMatch(human.err, /^\s+at /m);
    const json = records(run(["generate", "--json"], { cwd: invalid }).out);
    assert.equal(json[0].type, "error");
    assert.equal(json[0].kind, "invalidDescription");
    assert.equal(json[0].exitCode, 10);
    assert.deepEqual(
      json[0].issues.map((i: { path: string }) => i.path),
      ["port"],
    );
    assert.deepEqual(json.at(-1), { type: "result", command: "generate", ok: false, exitCode: 10, kind: "invalidDescription" });

    // The description changed after the files were generated: they are stale.
    const drifted = project();
    const config = path.join(drifted, "prodserver.config.mjs");
    fs.writeFileSync(config, fs.readFileSync(config, "utf8").replace("port: 3000", "port: 3100"));
    const check = run(["check", "--json"], { cwd: drifted });
    assert.equal(check.code, 11, check.err);
    const recs = records(check.out);
    assert.deepEqual(recs[0], { type: "description", file: "prodserver.config.mjs", valid: true });
    const dockerfile = recs.find((r) => r.type === "file" && r.path === "Dockerfile");
    assert.equal(dockerfile?.status, "stale");
    assert.equal(dockerfile?.stale, true);
    assert.match(dockerfile?.diff, /^\+EXPOSE 3100$/m);
    assert.ok(
      recs.slice(1, -1).every((r) => r.type === "file" && typeof r.status === "string"),
      "one file record per generated file",
    );
    assert.deepEqual(recs.at(-1), { type: "result", command: "check", ok: false, exitCode: 11, kind: "driftStale" });

    // The app lists prodserver (as `npm add prodserver` leaves it), so the Engine is what fails.
    const app = project();
    const pkgFile = path.join(app, "package.json");
    const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
    fs.writeFileSync(pkgFile, JSON.stringify({ ...pkg, dependencies: { ...pkg.dependencies, prodserver: `^${VERSION}` } }, null, 2));
    const engine = run(["build", "--json"], { cwd: app, env: { DOCKER_HOST: `unix://${path.join(empty, "no-docker.sock")}` } });
    assert.equal(engine.code, 13, engine.out + engine.err);
    const e = records(engine.out);
    assert.equal(e[0].kind, "engineUnreachable");
    assert.match(e[0].message, /cannot reach the Docker Engine/);
    assert.match(e[0].hint, /dockerd/);
    assert.equal(e.at(-1)?.exitCode, 13);
  });

  test("terminal escapes: stripped on a pipe and with NO_COLOR on a terminal; kept with FORCE_COLOR", () => {
    // A description whose loading fails with a coloured message (as a tool's error may be).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-cli-conv-esc-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "prodserver.config.mjs"), 'throw new Error("\\x1b[31mred-marker\\x1b[39m");\n');
    const piped = run(["check"], { cwd: dir });
    assert.equal(piped.code, 10);
    assert.match(piped.err, /red-marker/);
    assert.ok(!piped.err.includes(ESC), `no escape codes on a pipe: ${JSON.stringify(piped.err)}`);
    const forced = run(["check"], { cwd: dir, env: { FORCE_COLOR: "1" } });
    assert.ok(forced.err.includes(`${ESC}[31mred-marker`), "FORCE_COLOR keeps them");
    const disabled = run(["check"], { cwd: dir, env: { FORCE_COLOR: "0" } });
    assert.ok(!disabled.err.includes(ESC));
    // On a terminal (script(1) gives the CLI a pty): colour unless NO_COLOR.
    const onTty = (env: NodeJS.ProcessEnv) =>
      spawnSync("script", ["-qec", `${process.execPath} ${CLI} check`, "/dev/null"], {
        cwd: dir,
        encoding: "utf8",
        timeout: 30_000,
        env: { ...BASE_ENV, TERM: "xterm-256color", ...env },
      }).stdout;
    assert.ok(onTty({}).includes(`${ESC}[31mred-marker`), "a colour terminal gets them");
    const noColour = onTty({ NO_COLOR: "1" });
    assert.match(noColour, /red-marker/);
    assert.ok(!noColour.includes(ESC), `NO_COLOR strips them on a terminal: ${JSON.stringify(noColour)}`);
  });
});

describe("prodserver serve without APP in a project folder", () => {
  after(() => killAll());

  test("serves the description's app and processes.web settings; flags and PORT still win; an invalid description is exit 10", async () => {
    const port = await freePort();
    const dir = project("express-app", (c) => c.replace("port: 3000", `port: ${port}`).replace('workers: "auto"', "workers: 2, max_requests: 1000"));
    const ci = spawnSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    assert.equal(ci.status, 0, ci.stderr);

    const config = run(["serve", "--print-config"], { cwd: dir });
    assert.equal(config.code, 0, config.err);
    const settings = JSON.parse(config.out);
    assert.equal(settings.app, "src/app.js#app");
    assert.deepEqual(settings.bind, [`127.0.0.1:${port}`]);
    assert.equal(settings.workers, 2);
    assert.equal(settings.max_requests, 1000);
    const over = JSON.parse(run(["serve", "--print-config", "--workers", "1"], { cwd: dir, env: { PORT: "4567" } }).out);
    assert.deepEqual(over.bind, ["0.0.0.0:4567"], "PORT beats the description, as it beats a config file");
    assert.equal(over.workers, 1, "a flag beats the description");
    assert.equal(over.max_requests, 1000, "the rest still comes from the description");

    const s = await start(["serve"], { cwd: dir, entry: CLI, env: BASE_ENV, workers: 2 });
    const r = await httpGet(port, "/");
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /"hello":"world"/);
    assert.equal((await s.stop()).code, 0);

    fs.writeFileSync(path.join(dir, "prodserver.config.mjs"), fs.readFileSync(path.join(dir, "prodserver.config.mjs"), "utf8").replace(`port: ${port}`, "port: 0"));
    const bad = run(["serve"], { cwd: dir });
    assert.equal(bad.code, 10, bad.err);
    assert.match(bad.err, /port/);
  });
});
