// The project description schema: defaults, and every field's error names its path.
import { newestLtsMajor } from "../../src/description/node-versions.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DescriptionError, validateDescription, descriptionJsonSchema, webSettings, loadDescription, renderDescriptionFile } from "../../src/description/index.js";

const base = () => ({ name: "express-hello", app: "src/app.js#app" });

/** Set `value` at dotted `p` in a copy of `obj`. */
function setPath(obj: any, p: string, value: unknown): any {
  const copy = structuredClone(obj);
  const keys = p.split(".");
  let cur = copy;
  for (const k of keys.slice(0, -1)) cur = cur[k] ??= {};
  cur[keys.at(-1)!] = value;
  return copy;
}

function issuesOf(raw: unknown): DescriptionError {
  try {
    validateDescription(raw, "prodserver.config.ts");
  } catch (e) {
    assert.ok(e instanceof DescriptionError, `expected DescriptionError, got ${e}`);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}

test("defaults fill every optional field", () => {
  const d = validateDescription(base());
  assert.equal(d.version, "latest");
  assert.equal(d.node, String(newestLtsMajor()), "the newest LTS line today");
  assert.equal(d.packageManager, "npm");
  assert.equal(d.workspace, null);
  assert.equal(d.build, null);
  assert.equal(d.port, 3000);
  assert.deepEqual(d.processes, { web: {} });
  assert.deepEqual(d.health, { path: "/readyz", interval: 10, timeout: 3, startPeriod: 20, retries: 3 });
  assert.equal(d.deploy.uid, 1000);
  assert.equal(d.deploy.systemd.workingDirectory, "/srv/express-hello");
  assert.equal(d.deploy.nginx.serverName, "_");
  const b = validateDescription({ ...base(), build: { command: "npm run build" } });
  assert.deepEqual(b.build, { command: "npm run build", output: "dist" });
});

// [field path, bad value]: each must be rejected with an issue at exactly that path.
const BAD: Array<[string, unknown]> = [
  ["name", "Express Hello"],
  ["name", "-x"],
  ["name", "a".repeat(64)],
  ["version", "1.0.0+build"],
  ["node", "18"],
  ["node", "lts"],
  ["packageManager", "bun"],
  ["app", "src/app.js#not valid"],
  ["app", 42],
  ["app", "src/app.ts#app"],
  ["build", "npm run build"],
  ["build.command", "npm run build\nRUN rm -rf /"],
  ["build.command", "echo \\"],
  ["build.output", "../outside"],
  ["build.output", "/abs"],
  ["build.output", "dist$HOME"],
  ["build.extra", 1],
  ["port", 0],
  ["port", 70000],
  ["port", "3000"],
  ["processes.web.wrokers", 2],
  ["processes.worker.command", 5],
  ["processes.worker.command", "node a.js\nExecStartPre=/bin/sh"],
  ["processes.worker.replicas", -1],
  ["processes.web.replicas", 1.5],
  ["health.path", "readyz"],
  ["health.path", "/ready z"],
  ["health.interval", 0],
  ["health.timeout", "3"],
  ["health.startPeriod", -1],
  ["health.retries", 0],
  ["deploy.uid", 0],
  ["deploy.uid", "1000"],
  ["deploy.user", "Root User"],
  ["deploy.nginx.serverName", "example.com; evil"],
  ["deploy.nginx.listen", 0],
  ["deploy.nginx.clientMaxBodySize", "16 MB"],
  ["deploy.nginx.proxyReadTimeout", 0],
  ["deploy.systemd.user", "www data"],
  ["deploy.systemd.workingDirectory", "relative/dir"],
  ["deploy.systemd.nodePath", "node"],
  ["deploy.unknown", true],
];

for (const [field, value] of BAD) {
  test(`${field} = ${JSON.stringify(value).slice(0, 40)} is rejected naming ${field}`, () => {
    const err = issuesOf(setPath(base(), field, value));
    assert.ok(
      err.issues.some((i) => i.path === field),
      `issues ${JSON.stringify(err.issues)} do not name ${field}`,
    );
    assert.match(err.message, new RegExp(`^  ${field.replace(/\./g, "\\.")}: `, "m"));
  });
}

test("app pointing at TypeScript sources suggests the build output", () => {
  const err = issuesOf(setPath(base(), "app", "src/server.mts#createApp()"));
  assert.match(err.message, /app: the runtime loads JavaScript: point at the build output \(e\.g\. "dist\/server\.mjs#createApp\(\)"\)/);
});

test("reuse_port needs node >= 22 in the description (the image's node runs the runtime)", () => {
  const err = issuesOf(setPath(setPath(base(), "processes.web.reuse_port", true), "node", "20"));
  assert.match(err.message, /^ {2}processes\.web\.reuse_port: needs Node\.js >= 22\.12 \(SO_REUSEPORT\); this description's node is 20/m);
  const ok = validateDescription(setPath(setPath(base(), "processes.web.reuse_port", true), "node", "22"), "prodserver.config.ts");
  assert.equal((ok.processes.web as { reuse_port?: boolean }).reuse_port, true);
});

test("a process type name must be [a-z][a-z0-9-]*", () => {
  const err = issuesOf(setPath(base(), "processes.Bad_Name", { command: "node x.js" }));
  assert.ok(
    err.issues.some((i) => i.path === "processes.Bad_Name"),
    JSON.stringify(err.issues),
  );
});

test("every runtime setting in processes.web is validated by the setting's own validate", () => {
  const wrong: Record<string, unknown> = { int: -5, number: -5, boolean: "maybe", list: 5, enum: "nope", string: 12 };
  const names = webSettings().map((s) => s.name);
  assert.ok(names.includes("workers") && names.includes("graceful_timeout") && !names.includes("app"));
  assert.ok(!names.includes("print_config"), "inDescription: false settings are not in processes.web");
  for (const s of webSettings()) {
    const err = issuesOf(setPath(base(), `processes.web.${s.name}`, wrong[s.type]));
    const issue = err.issues.find((i) => i.path === `processes.web.${s.name}`);
    assert.ok(issue, `${s.name}: ${JSON.stringify(err.issues)}`);
  }
  // The setting's own message, not a generic one.
  const w = issuesOf(setPath(base(), "processes.web.workers", 0));
  assert.equal(w.issues[0].message, "must be between 1 and 1024, got 0");
  const b = issuesOf(setPath(base(), "processes.web.bind", "unix:"));
  assert.match(b.issues[0].message, /unix: needs a socket path/);
  // "auto" stays "auto" (resolved by the runtime on the target machine, not here).
  assert.equal(validateDescription(setPath(base(), "processes.web.workers", "auto")).processes.web.workers, "auto");
});

test("the JSON Schema describes the input and matches templates/prodserver.schema.json", () => {
  const schema = descriptionJsonSchema() as any;
  assert.deepEqual(schema.required, ["name", "app"]);
  assert.ok(schema.properties.processes.properties.web.properties.graceful_timeout);
  const file = path.resolve("templates/prodserver.schema.json");
  const text = JSON.stringify(schema, null, 2) + "\n";
  if (process.env.UPDATE_SCHEMA === "1") fs.writeFileSync(file, text);
  assert.equal(fs.readFileSync(file, "utf8"), text, "schema file out of date: rerun this test with UPDATE_SCHEMA=1");
});

function tmpApp(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-desc-"));
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
  return dir;
}

test("loadDescription reads .ts (importing defineConfig from prodserver), .mjs and .json", async () => {
  const ts = tmpApp({
    "prodserver.config.ts": `import { defineConfig } from "prodserver";\nconst port: number = 4000;\nexport default defineConfig({ name: "a", app: "x.js", port });\n`,
  });
  const mjs = tmpApp({ "prodserver.config.mjs": `export default { name: "b", app: "x.js" };\n` });
  const json = tmpApp({ "prodserver.config.json": JSON.stringify({ $schema: "x", name: "c", app: "x.js" }) });
  assert.equal((await loadDescription(ts)).description.port, 4000);
  assert.equal((await loadDescription(mjs)).description.name, "b");
  const j = await loadDescription(json);
  assert.equal(j.description.name, "c");
  assert.equal(j.file, path.join(json, "prodserver.config.json"));
});

test("loadDescription: none, several, invalid JSON and invalid fields are clear errors", async () => {
  await assert.rejects(loadDescription(tmpApp({})), /no project description .*prodserver\.config\.ts/);
  await assert.rejects(
    loadDescription(tmpApp({ "prodserver.config.ts": "export default {}", "prodserver.config.json": "{}" })),
    /several project descriptions .*prodserver\.config\.ts, prodserver\.config\.json/,
  );
  await assert.rejects(loadDescription(tmpApp({ "prodserver.config.json": "{ nope" })), /cannot load .*prodserver\.config\.json/);
  await assert.rejects(
    loadDescription(tmpApp({ "prodserver.config.mjs": `export default { name: "a", app: "x.js", processes: { web: { workers: 0 } } };` })),
    (e: Error) => e instanceof DescriptionError && /prodserver\.config\.mjs:\n {2}processes\.web\.workers: must be between 1 and 1024/.test(e.message),
  );
});

test("renderDescriptionFile is deterministic and round-trips through loadDescription", async () => {
  const raw = { ...base(), build: { command: "npm run build" }, processes: { worker: { command: "node jobs.js" }, web: { workers: 2 } } };
  const a = renderDescriptionFile(raw);
  assert.equal(renderDescriptionFile(raw), a);
  // The default: JavaScript typed by JSDoc, with no import (no compiler or bundler of the app reads it).
  assert.match(a, /^\/\/ @ts-check\n.*\n\/\*\* @type \{import\("prodserver"\)\.DescriptionInput\} \*\/\nexport default \{\n/);
  assert.doesNotMatch(a, /^import /m);
  assert.ok(a.indexOf("web:") < a.indexOf("worker:"), "web comes first among processes");
  const dir = tmpApp({ "prodserver.config.mjs": a });
  const { description } = await loadDescription(dir);
  assert.deepEqual(description, validateDescription(raw));
  // Rendering the loaded description again gives the same bytes (init twice changes nothing).
  assert.equal(renderDescriptionFile(description), a);
  const ts = renderDescriptionFile(raw, "ts");
  assert.match(ts, /^import \{ defineConfig \} from "prodserver";\n/);
  assert.deepEqual((await loadDescription(tmpApp({ "prodserver.config.ts": ts }))).description, validateDescription(raw));
  const json = renderDescriptionFile(raw, "json");
  assert.deepEqual(validateDescription(JSON.parse(json)), validateDescription(raw));
});
