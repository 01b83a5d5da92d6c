// detectProject on several package.json / lockfile / tsconfig shapes (fixtures in test/fixtures/projects).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { detectProject, lowestNodeMajor, detectExport, detectPort, sanitizeName } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";
import { matchesWorkspace } from "../../src/description/workspace.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/projects/", import.meta.url));
const fixture = (n: string) => path.join(FIXTURES, n);
/** A day of the Node release schedule the expectations below are written for (26 Active LTS, 22 and 24 maintained, 20 past end of life). */
const DEC_2026 = new Date("2026-12-07");

test("CommonJS Express app with npm lockfile: scope dropped, module.exports default, port from server.js", async () => {
  const r = await detectProject(fixture("js-cjs-npm"), DEC_2026);
  const d = r.description;
  assert.equal(d.name, "express-hello");
  assert.equal(d.version, "1.2.3-build.7", "a tag cannot contain +");
  assert.equal(d.packageManager, "npm");
  assert.equal(d.node, "26", ">=20 → the newest LTS it allows");
  assert.deepEqual(r.warnings, []);
  assert.equal(d.app, "app.js");
  assert.equal(d.build, null);
  assert.equal(d.port, 8080);
  assert.deepEqual(r.uncertain, []);
});

test("TypeScript ESM app with pnpm: outDir from JSONC tsconfig, source mapped to the build output", async () => {
  const r = await detectProject(fixture("ts-esm-pnpm"), DEC_2026);
  const d = r.description;
  assert.equal(d.packageManager, "pnpm");
  assert.equal(d.node, "22", "^22.1 → 22");
  assert.deepEqual(d.build, { command: "pnpm run build", output: "build" });
  assert.equal(d.app, "build/app.js#app");
  assert.equal(d.port, 4000);
  assert.deepEqual(r.uncertain, []);
});

test("ESM default export with yarn and no engines: the newest LTS line; no port in the source: 3000, which the runtime binds (the app never listens)", async () => {
  const r = await detectProject(fixture("esm-yarn"), DEC_2026);
  assert.equal(r.description.packageManager, "yarn");
  assert.equal(r.description.app, "src/index.js");
  assert.equal(r.description.framework, "koa");
  assert.equal(r.description.node, "26");
  assert.equal(r.description.port, 3000);
  assert.deepEqual(r.uncertain, []);
  assert.match(r.reasons.node, /no engines\.node; the newest LTS, Node 26/);
  // A year later Node 27 is LTS too (from 27 on every line is).
  assert.equal((await detectProject(fixture("esm-yarn"), new Date("2027-12-01"))).description.node, "27");
  // Before Node 26 became LTS (2026-10-28), 24 was the newest.
  assert.equal((await detectProject(fixture("esm-yarn"), new Date("2026-10-27"))).description.node, "24");
  // The Dockerfile written from it builds FROM that line.
  const [df] = renderFiles((await detectProject(fixture("esm-yarn"), new Date("2026-10-27"))).description, { targets: ["dockerfile"] });
  assert.match(df.content, /^ARG NODE_VERSION=24$/m);
});

test("packageManager field wins over a lockfile; a factory export becomes #createApp()", async () => {
  const r = await detectProject(fixture("pm-field"), DEC_2026);
  assert.equal(r.description.packageManager, "pnpm");
  assert.equal(r.description.app, "index.mjs#createApp()");
  assert.equal(r.description.node, "22", "20.x || 22.x → 22: 20 is past its end of life, 22 is the newest LTS allowed");
  assert.deepEqual(r.warnings, []);
});

test("engines pinned to an end-of-life line: that line, with a warning naming the date", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-eol-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "old", engines: { node: "20.x" } }));
  fs.writeFileSync(path.join(dir, "index.js"), "module.exports = (req, res) => res.end();\n");
  const r = await detectProject(dir, DEC_2026);
  assert.equal(r.description.node, "20");
  assert.deepEqual(r.warnings, ['Node 20 reached end of life on 2026-04-30 and gets no security fixes; the newest LTS is Node 26 (set "node" in the description, or widen engines.node)']);
  // The same project before that date: no warning.
  assert.deepEqual((await detectProject(dir, new Date("2026-04-29"))).warnings, []);
});

test("an app that exports nothing and listens itself is served in listen mode; its fixed port is app_port", async () => {
  const r = await detectProject(fixture("no-export"));
  assert.deepEqual(r.uncertain, []);
  assert.equal(r.description.framework, "node");
  assert.equal(r.description.app, "server.js");
  assert.match(r.reasons.app, /server\.js starts its own server and exports no app: served in listen mode/);
  assert.equal(r.description.port, 3001);
  assert.equal(r.description.processes.web.app_port, 3001, "it does not read PORT");
});

test("lockfile shapes: npm-shrinkwrap → npm, several lockfiles → uncertain, none → npm uncertain", async () => {
  const mk = (files: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-detect-"));
    for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
    return dir;
  };
  const pkg = JSON.stringify({ name: "x", main: "index.js" });
  const idx = "module.exports = (req, res) => res.end('x');";
  const shrink = await detectProject(mk({ "package.json": pkg, "index.js": idx, "npm-shrinkwrap.json": "{}" }));
  assert.equal(shrink.description.packageManager, "npm");
  assert.ok(!shrink.uncertain.includes("packageManager"));
  const both = await detectProject(mk({ "package.json": pkg, "index.js": idx, "yarn.lock": "", "pnpm-lock.yaml": "" }));
  assert.ok(both.uncertain.includes("packageManager"));
  const none = await detectProject(mk({ "package.json": pkg, "index.js": idx }));
  assert.equal(none.description.packageManager, "npm");
  assert.ok(none.uncertain.includes("packageManager"));
  await assert.rejects(detectProject(mk({})), /no package\.json/);
  await assert.rejects(detectProject(mk({ "package.json": "{ nope" })), /package\.json: invalid JSON/);
});

test("TypeScript sources without a build script: app mapped to the likely output, build and app uncertain", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-detect-"));
  fs.mkdirSync(path.join(dir, "src"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "ts-nobuild", type: "module" }));
  fs.writeFileSync(path.join(dir, "src/app.ts"), "export const app = (req: any, res: any) => res.end('x');\n");
  const r = await detectProject(dir);
  assert.equal(r.description.app, "dist/app.js#app");
  assert.equal(r.description.build, null);
  assert.ok(r.uncertain.includes("build") && r.uncertain.includes("app"), JSON.stringify(r.uncertain));
});

test("port from other scripts or an env file when the source has none", async () => {
  const mk = (files: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-detect-"));
    for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
    return dir;
  };
  const idx = "module.exports = (req, res) => res.end('x');";
  const dev = await detectProject(mk({ "package.json": JSON.stringify({ name: "p", main: "index.js", scripts: { dev: "PORT=5050 node index.js" } }), "index.js": idx }));
  assert.equal(dev.description.port, 5050);
  assert.equal(dev.reasons.port, "found in package.json scripts");
  const env = await detectProject(mk({ "package.json": JSON.stringify({ name: "p", main: "index.js" }), "index.js": idx, ".env.example": "DB=x\nPORT=6060\n" }));
  assert.equal(env.description.port, 6060);
  assert.ok(!env.uncertain.includes("port"));
});

test("lowestNodeMajor: the lowest major >= 20 that satisfies engines.node", () => {
  const cases: Array<[string, number | null]> = [
    [">=20", 20],
    [">=18", 20],
    ["^22.1", 22],
    ["~22.3.0", 22],
    ["22", 22],
    ["22.x", 22],
    ["20.x || 22.x", 20],
    [">18", 20],
    [">20", 21],
    [">=20.19 <23", 20],
    ["^18", null],
    ["<20", null],
    ["20 - 22", 20],
    ["*", 20],
    ["banana", null],
  ];
  for (const [range, want] of cases) assert.equal(lowestNodeMajor(range, 20), want, range);
});

test("detectExport and detectPort recognise CJS and ESM shapes", () => {
  assert.equal(detectExport("export const app = express();"), "#app");
  assert.equal(detectExport("const app = x; export { app };"), "#app");
  assert.equal(detectExport("exports.app = app;"), "#app");
  assert.equal(detectExport("export async function createApp() {}"), "#createApp()");
  assert.equal(detectExport("export default app;"), "");
  assert.equal(detectExport("module.exports = app;"), "");
  assert.equal(detectExport("app.listen(3000)"), null);
  assert.equal(detectPort("app.listen(process.env.PORT || 8080)"), 8080);
  assert.equal(detectPort("const port = process.env.PORT ?? '5000'"), 5000);
  assert.equal(detectPort("server.listen(4001, () => {})"), 4001);
  assert.equal(detectPort("PORT=7000 node x.js"), 7000);
  assert.equal(detectPort("nothing here"), null);
  assert.equal(sanitizeName("@Scope/My App!"), "my-app");
  assert.equal(sanitizeName("__"), "app");
});

test("workspaces: an app in npm, pnpm and Yarn workspaces takes the package manager from the root and records its place", async () => {
  const pm = (p: string) => fileURLToPath(new URL(`../../../test/fixtures/pm/${p}`, import.meta.url));
  for (const [fixture, manager] of [
    ["npm-workspaces", "npm"],
    ["pnpm-workspaces", "pnpm"],
    ["yarn-workspaces", "yarn"],
  ] as const) {
    const r = await detectProject(pm(`${fixture}/apps/web`), DEC_2026);
    assert.equal(r.description.packageManager, manager, fixture);
    assert.deepEqual(r.description.workspace, { path: "apps/web", package: "web" }, fixture);
    assert.match(r.reasons.workspace, /apps\/web is a package of the workspace at /);
  }
  // The workspace root itself, and an app outside any workspace, are not workspace members.
  assert.equal((await detectProject(pm("npm-workspaces"), DEC_2026)).description.workspace, null);
  assert.equal((await detectProject(pm("pnpm"), DEC_2026)).description.workspace, null);
  assert.equal((await detectProject(pm("yarn4"), DEC_2026)).description.packageManager, "yarn");
  assert.equal((await detectProject(pm("yarn4"), DEC_2026)).description.node, "24", "engines 24.x");
});

test("workspace globs: * and ** and !exclusions, as npm and pnpm match them", () => {
  assert.ok(matchesWorkspace("apps/web", ["apps/*"]));
  assert.ok(!matchesWorkspace("apps/web/sub", ["apps/*"]));
  assert.ok(matchesWorkspace("packages/a/b", ["packages/**"]));
  assert.ok(matchesWorkspace("web", ["web", "docs"]));
  assert.ok(!matchesWorkspace("apps/legacy", ["apps/*", "!apps/legacy"]));
  assert.ok(matchesWorkspace("./apps/web".replace(/^\.\//, ""), ["./apps/*"]));
});
