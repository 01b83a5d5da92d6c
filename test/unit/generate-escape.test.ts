// Escaping helpers: exact round-trip where representable, an error naming the field otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as esc from "../../src/generate/escape.js";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles, UnsafeValueError } from "../../src/generate/index.js";

const NASTY = ['a"b', "a\nb", "a;b", "a{b", "a$b", "a\0b", "a\\b", "a%b", "a}b", "a'b", "a\rb"];

test("dockerJson: valid JSON strings, $ literal, control characters refused", () => {
  for (const v of NASTY) {
    if (/[\0\n\r]/.test(v)) {
      assert.throws(
        () => esc.dockerJson(v, "app"),
        (e: Error) => e instanceof UnsafeValueError && /^app: /.test(e.message),
        JSON.stringify(v),
      );
    } else {
      assert.equal(JSON.parse(esc.dockerJson(v, "app")), v);
    }
  }
});

test("dockerPath / dockerRun refuse what COPY or RUN would interpret", () => {
  assert.equal(esc.dockerPath("dist/out", "build.output"), "dist/out");
  for (const v of ["a b", "$HOME", "a\nb", 'a"b']) assert.throws(() => esc.dockerPath(v, "build.output"), /Error: build\.output: /);
  assert.equal(esc.dockerRun("npm run build && echo $X", "build.command"), "npm run build && echo $X");
  for (const v of ["a\nRUN evil", "a \\", "", "a\0"]) assert.throws(() => esc.dockerRun(v, "build.command"), /Error: build\.command: /);
});

test("nginxString: bare, quoted, or refused ($, quote, backslash, control)", () => {
  assert.equal(esc.nginxString("example.com", "deploy.nginx.serverName"), "example.com");
  assert.equal(esc.nginxString("a;b", "f"), '"a;b"');
  assert.equal(esc.nginxString("a{b}", "f"), '"a{b}"');
  for (const v of ['a"b', "a$b", "a\\b", "a\nb", "a\0b", ""]) {
    if (v === "") assert.equal(esc.nginxString(v, "f"), '""');
    else assert.throws(() => esc.nginxString(v, "deploy.nginx.serverName"), /Error: deploy\.nginx\.serverName: /, JSON.stringify(v));
  }
});

test("systemdValue / systemdArg: % and $ escaped, quotes escaped, control characters refused", () => {
  assert.equal(esc.systemdValue("/srv/a%b", "deploy.systemd.workingDirectory"), "/srv/a%%b");
  assert.throws(() => esc.systemdValue("a\nExecStartPre=/bin/sh", "deploy.systemd.user"), /Error: deploy\.systemd\.user: /);
  assert.throws(() => esc.systemdValue("a\\", "x"), /trailing backslash/);
  assert.equal(esc.systemdArg("--workers", "f"), "--workers");
  assert.equal(esc.systemdArg("a$b", "f"), '"a$$b"');
  assert.equal(esc.systemdArg("a%b", "f"), '"a%%b"');
  assert.equal(esc.systemdArg('a"b\\c', "f"), '"a\\"b\\\\c"');
  assert.equal(esc.systemdArg("a;b", "f"), '"a;b"');
  assert.equal(esc.systemdArg(";", "f"), '";"');
  for (const v of ["a\nb", "a\0b", "a\rb"]) assert.throws(() => esc.systemdArg(v, "processes.worker.command"), /Error: processes\.worker\.command: /);
});

test("shellWord and yamlScalar", () => {
  assert.equal(esc.shellWord("plain/path", "f"), "plain/path");
  assert.equal(esc.shellWord("it's $x", "f"), `'it'\\''s $x'`);
  assert.equal(esc.yamlScalar('a"b: #c', "f"), '"a\\"b: #c"');
  assert.equal(esc.yamlScalar(3, "f"), "3");
  assert.throws(() => esc.yamlScalar("a\nb", "name"), /Error: name: /);
  assert.throws(() => esc.shellWord("a\0b", "f"), /Error: f: /);
  assert.throws(() => esc.dockerJson("x".repeat(5000), "app"), /longer than 4096/);
});

test("a value that passes the schema but not a format is an error naming the field, not a broken file", () => {
  // access_log_format accepts any one-line string (the runtime registry), but a newline would break every file.
  const d = validateDescription({ name: "a", app: "x.js", processes: { web: { access_log_format: '%(h)s "%(r)s" $x %%' } } });
  const files = renderFiles(d);
  const df = files.find((f) => f.path === "Dockerfile")!.content;
  assert.ok(df.includes('"--access-logformat", "%(h)s \\"%(r)s\\" $x %%"'), df);
  const unit = files.find((f) => f.path.endsWith(".service"))!.content;
  assert.ok(unit.includes('--access-logformat "%%(h)s \\"%%(r)s\\" $$x %%%%"'), unit);
  const bad = { ...d, processes: { web: { accesslog: "/var/log/a\tb.log" } } };
  assert.throws(() => renderFiles(bad as any), /processes\.web\.accesslog: /);
});
