// The settings registry's validators and the serve-settings precedence
// (defaults < config file < env < command line).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { UsageError, cliOptions, parseArgv, resolveSettings, shellSplit } from "../../runtime/config.js";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SETTINGS, SettingError, defaults, findSetting, parseBind, type Setting } from "../../runtime/settings.js";

const BAD: Record<string, unknown[]> = {
  int: ["abc", 1.5, -1],
  number: ["soon", -1, Number.NaN],
  boolean: ["maybe", 2],
  enum: ["loud", 3],
  list: [[], ["has space:80"], [42]],
};
const BAD_STRINGS: Record<string, unknown[]> = {
  app: ["app.js#not valid", "app.js#1bad", " leading-space.js", "a\nb.js"],
  config: ["settings.yaml", 5],
  proc_name: ["no spaces allowed", "x".repeat(65)],
  access_log_format: [7, null],
  errorlog: [null, "a\0b"],
  accesslog: [3, "a\0b"],
  forwarded_allow_ips: ["10.0.0.300", "10.0.0.0/33", "::1/129", "host.example", 5],
  pidfile: [7, "a\0b"],
  chdir: [7, "a\0b"],
  certfile: [7, "a\0b"],
  keyfile: [7, "a\0b"],
  user: [7, "has space", "-dash", "x".repeat(40)],
  group: [7, "has space", "-dash", "x".repeat(40)],
  metrics_bind: [9100, "unix:/tmp/m.sock", "fd://3", "not a host:1", "127.0.0.1:99999"],
};
const BAD_OTHER: Record<string, unknown[]> = {
  raw_env: [["NOEQUALS"], ["1X=2"], [5], 7],
};

describe("settings registry", () => {
  test("every setting has a unique name and flags, a doc, and a default that validates", () => {
    const names = new Set<string>();
    const flags = new Set<string>();
    for (const s of SETTINGS as readonly Setting[]) {
      assert.ok(!names.has(s.name), s.name);
      names.add(s.name);
      for (const f of s.flags) {
        assert.match(f, /^--[a-z][a-z0-9-]*(_[a-z]+)?$/, s.name); // `_`: Gunicorn's own --limit-request-field_size spelling
        assert.ok(!flags.has(f), f);
        flags.add(f);
      }
      assert.ok(s.doc.length > 10, s.name);
      const d = (defaults({}) as Record<string, unknown>)[s.name];
      assert.deepEqual(s.validate(d, "default"), d, s.name);
    }
  });

  test("every invalid value is rejected with an error naming the setting and the source", () => {
    for (const s of SETTINGS as readonly Setting[]) {
      const bad = BAD_STRINGS[s.name] ?? BAD_OTHER[s.name] ?? (s.type === "string" ? [] : BAD[s.type]);
      if (s.type === "string" && !BAD_STRINGS[s.name]) assert.fail(`no bad values listed for string setting ${s.name}`);
      for (const v of bad) {
        assert.throws(
          () => s.validate(v, "test source"),
          (e: unknown) => e instanceof SettingError && e.setting === s.name && e.message.startsWith(`${s.name} (from test source): `),
          `${s.name} accepted ${JSON.stringify(v)}`,
        );
      }
    }
  });

  test("values are normalised: octal umask, booleans, numbers from strings", () => {
    assert.equal(findSetting("umask")!.validate("0o027", "x"), 0o027);
    assert.equal(findSetting("umask")!.validate("022", "x"), 0o22);
    assert.equal(findSetting("check_config")!.validate("yes", "x"), true);
    assert.equal(findSetting("timeout")!.validate("2.5", "x"), 2.5);
    assert.equal(findSetting("max_worker_memory")!.validate("512M", "x"), 512 * 1024 * 1024);
    assert.equal(findSetting("max_worker_memory")!.validate("1.5G", "x"), 1.5 * 1024 ** 3);
    assert.throws(() => findSetting("max_worker_memory")!.validate("lots", "x"), /^SettingError: max_worker_memory \(from x\): expected bytes/);
    assert.deepEqual(findSetting("raw_env")!.validate("A=b=c", "x"), ["A=b=c"]);
    assert.equal(findSetting("forwarded_allow_ips")!.validate(" 10.0.0.0/8, ::1 ,*", "x"), "10.0.0.0/8,::1,*");
    assert.deepEqual(parseBind("[::1]:9"), { kind: "tcp", host: "::1", port: 9 });
    assert.deepEqual(parseBind("unix:/tmp/a.sock"), { kind: "unix", path: "/tmp/a.sock" });
    assert.deepEqual(parseBind("fd://3"), { kind: "fd", fd: 3 });
    assert.throws(() => parseBind("::1:80"), /bind: an IPv6 address goes in brackets/);
  });

  test("forwarded_allow_ips: loopback and private ranges by default, FORWARDED_ALLOW_IPS overrides, set but empty trusts no TCP peer", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fwd-"));
    const resolve = async (env: NodeJS.ProcessEnv) => (await resolveSettings([], env, dir)).settings.forwarded_allow_ips;
    assert.equal(await resolve({}), "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7");
    assert.equal(await resolve({ FORWARDED_ALLOW_IPS: "192.0.2.10" }), "192.0.2.10");
    assert.equal(await resolve({ FORWARDED_ALLOW_IPS: "" }), "");
    const { trustedPeer } = await import("../../runtime/worker/request-guard.js");
    const trusted = trustedPeer(await resolve({}));
    for (const peer of ["127.0.0.1", "::1", "10.1.2.3", "172.31.255.1", "192.168.1.1", "fd00::5", "::ffff:10.0.0.9"]) assert.equal(trusted(peer), true, peer);
    for (const peer of ["203.0.113.7", "172.32.0.1", "100.64.0.1", "2001:db8::1", "::ffff:8.8.8.8"]) assert.equal(trusted(peer), false, peer);
    assert.equal(trustedPeer("")("127.0.0.1"), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("CLI options are generated from the registry (long flags, short aliases, repeatable lists)", () => {
    const { options } = cliOptions();
    assert.deepEqual(options.bind, { type: "string", multiple: true, short: "b" });
    assert.equal(options.workers.short, "w");
    assert.equal(options["print-config"].type, "boolean");
    assert.ok(options["log-file"], "every flag alias is an option");
    assert.deepEqual(parseArgv(["app.js#app", "-b", "a:1", "--bind", "b:2", "--log-file", "x.log"], "cli"), { app: "app.js#app", bind: ["a:1", "b:2"], errorlog: "x.log" });
    assert.throws(
      () => parseArgv(["--nope"], "command line"),
      (e: unknown) => e instanceof UsageError && /command line: Unknown option '--nope'/.test((e as Error).message),
    );
    // APP [ARG...]: the program's arguments travel in the app string, quoted so they split back the same.
    assert.deepEqual(parseArgv(["-w", "2", "--", "next", "start", "-p", "it's 3000"], "command line"), { workers: "2", app: "next start -p 'it'\\''s 3000'" });
    assert.deepEqual(shellSplit(parseArgv(["--", "next", "start", "-p", "it's 3000"], "cli").app as string), ["next", "start", "-p", "it's 3000"]);
    assert.throws(() => parseArgv(["a.js", "--app", "b.js"], "command line"), /both as --app and as an argument/);
  });
});

describe("PRODSERVER_CMD_ARGS splitting", () => {
  test("quotes and escapes like a POSIX shell, no expansion", () => {
    assert.deepEqual(shellSplit(`--workers 2  --name 'a b' --x "c \\"d\\" $HOME" e\\ f ''`), ["--workers", "2", "--name", "a b", "--x", 'c "d" $HOME', "e f", ""]);
    assert.deepEqual(shellSplit("  "), []);
    assert.throws(() => shellSplit("'open"), /PRODSERVER_CMD_ARGS: unterminated single quote/);
    assert.throws(() => shellSplit('"open'), /unterminated double quote/);
  });
});

describe("settings precedence", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-cfg-"));
  fs.writeFileSync(path.join(dir, "ps.json"), JSON.stringify({ workers: 2, timeout: 10, keepalive: 3, bind: ["127.0.0.1:9000"], app: "file.js#app", graceful_timeout: 11 }));
  fs.writeFileSync(path.join(dir, "ps.mjs"), "export default { workers: 6, loglevel: 'debug' };\n");
  fs.writeFileSync(path.join(dir, "named.mjs"), "export const settings = { backlog: 64 };\nexport default { backlog: 1 };\n");
  fs.writeFileSync(path.join(dir, "bad.json"), JSON.stringify({ wokers: 2 }));
  fs.writeFileSync(path.join(dir, "badval.json"), JSON.stringify({ workers: "many" }));

  test("defaults < config file < env (PORT, WEB_CONCURRENCY, PRODSERVER_CMD_ARGS) < argv", async () => {
    const env = { PORT: "7000", WEB_CONCURRENCY: "3", PRODSERVER_CMD_ARGS: "--name my-app --graceful-timeout 12" };
    const { settings, sources } = await resolveSettings(["--config", "ps.json", "--timeout", "40"], env, dir);
    assert.equal(settings.backlog, 2048);
    assert.equal(sources.backlog, "default");
    assert.equal(settings.keepalive, 3);
    assert.equal(sources.keepalive, path.join(dir, "ps.json"));
    assert.equal(settings.app, "file.js#app");
    assert.equal(settings.workers, 3);
    assert.equal(sources.workers, "env WEB_CONCURRENCY");
    assert.deepEqual(settings.bind, ["0.0.0.0:7000"]);
    assert.equal(sources.bind, "env PORT");
    assert.equal(settings.proc_name, "my-app");
    assert.equal(settings.graceful_timeout, 12);
    assert.equal(sources.graceful_timeout, "PRODSERVER_CMD_ARGS");
    assert.equal(settings.timeout, 40);
    assert.equal(sources.timeout, "command line");
    assert.equal(settings.config, path.join(dir, "ps.json"));
  });

  test("PRODSERVER_CMD_ARGS beats WEB_CONCURRENCY; argv beats both; argv lists replace", async () => {
    const env = { WEB_CONCURRENCY: "3", PRODSERVER_CMD_ARGS: "-w 4 -b 127.0.0.1:1" };
    assert.equal((await resolveSettings([], env, dir)).settings.workers, 4);
    const r = await resolveSettings(["-w", "5", "-b", "127.0.0.1:2"], env, dir);
    assert.equal(r.settings.workers, 5);
    assert.deepEqual(r.settings.bind, ["127.0.0.1:2"]);
  });

  test(".mjs config files: default export or `export const settings`; --config in PRODSERVER_CMD_ARGS", async () => {
    const a = await resolveSettings(["--config", "ps.mjs"], {}, dir);
    assert.equal(a.settings.workers, 6);
    assert.equal(a.settings.loglevel, "debug");
    assert.equal((await resolveSettings([], { PRODSERVER_CMD_ARGS: "-c named.mjs" }, dir)).settings.backlog, 64);
  });

  test("hooks: ESM named exports, or functions in a CommonJS settings object", async () => {
    fs.mkdirSync(path.join(dir, "cjs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "cjs", "package.json"), '{"type":"commonjs"}');
    fs.writeFileSync(path.join(dir, "cjs", "ps.js"), "module.exports = { workers: 3, when_ready(server) {} };\n");
    const c = await resolveSettings(["-c", "cjs/ps.js"], {}, dir);
    assert.equal(c.settings.workers, 3);
    assert.deepEqual(Object.keys(c.hooks), ["when_ready"]);
    fs.writeFileSync(path.join(dir, "hooks.mjs"), "export default { workers: 2 };\nexport function on_exit(server) {}\nexport const pre_request = (w, r) => {};\n");
    const e = await resolveSettings(["-c", "hooks.mjs"], {}, dir);
    assert.deepEqual(Object.keys(e.hooks).sort(), ["on_exit", "pre_request"]);
    fs.writeFileSync(path.join(dir, "nothook.mjs"), "export const when_ready = 5;\n");
    await assert.rejects(resolveSettings(["-c", "nothook.mjs"], {}, dir), /config \(from \S+nothook\.mjs\): when_ready \(from \S+\): a hook must be a function/);
  });

  test("config file errors name the key, the file, or the value's setting", async () => {
    await assert.rejects(resolveSettings(["-c", "bad.json"], {}, dir), (e: unknown) => e instanceof SettingError && e.setting === "wokers" && /unknown setting/.test((e as Error).message));
    await assert.rejects(resolveSettings(["-c", "badval.json"], {}, dir), /^SettingError: workers \(from \S+badval\.json\): expected an integer, got "many"/);
    await assert.rejects(resolveSettings(["-c", "missing.json"], {}, dir), /config \(from missing\.json\): no such file/);
    await assert.rejects(resolveSettings([], { PORT: "http" }, dir), /bind \(from env PORT\): the port must be 0-65535/);
    await assert.rejects(resolveSettings([], { WEB_CONCURRENCY: "0" }, dir), /workers \(from env WEB_CONCURRENCY\): must be between 1 and 1024/);
  });
});

const BUNDLE = fileURLToPath(new URL("../../prodserver-runtime.mjs", import.meta.url));
const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

test("workers auto is the CPUs the process may use: pinned to one CPU by taskset, the real runtime resolves 1", { skip: !hasTaskset && "taskset (util-linux) is not installed" }, () => {
  const r = spawnSync("taskset", ["-c", "0", process.execPath, BUNDLE, "serve", "--print-config", "--workers", "auto", "app.js"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).workers, 1);
});
