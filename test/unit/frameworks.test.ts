// The framework adapters (src/description/frameworks/) on the real corpus folders (test/corpus/:
// package.json, lockfiles and config files as the generators made them; no install needed, since
// detection only reads them), then on copies with one thing changed for the branches the corpus
// has no app for (Next.js standalone and export, adapter-auto, Astro middleware and static, Nest
// rootDir, a Nitro preset, an SPA, a framework package in devDependencies). Then the image
// layout each framework gets in the rendered Dockerfile.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { detectProject, validateDescription } from "../../src/description/index.js";
import { renderDockerfile } from "../../src/generate/index.js";

const CORPUS = fileURLToPath(new URL("../../../test/corpus/", import.meta.url));
const DEC_2026 = new Date("2026-12-07");

/** What each corpus app must be detected as (apps.json has the framework; the rest is read from each app's files by hand). */
const EXPECTED: Record<string, { framework: string; app: string; build: { command: string; output: string } | null; appPort?: number }> = {
  "express-listen": { framework: "express", app: "index.js", build: null },
  "express-generator": { framework: "express", app: "app.js", build: null },
  koa: { framework: "koa", app: "index.js", build: null, appPort: 3000 },
  "fastify-cli": { framework: "fastify-cli", app: "fastify start -l info app.js", build: null },
  "fastify-cli-ts": { framework: "fastify-cli", app: "fastify start -l info dist/app.js", build: { command: "npm run build:ts", output: "dist" } },
  nestjs: { framework: "nestjs", app: "dist/main", build: { command: "npm run build", output: "dist" } },
  nextjs: { framework: "nextjs", app: "next start", build: { command: "npm run build", output: ".next" } },
  "nextjs-empty": { framework: "nextjs", app: "next start", build: { command: "npm run build", output: ".next" } },
  sveltekit: { framework: "sveltekit", app: "build", build: { command: "npm run build", output: "build" } },
  "hono-node": { framework: "hono", app: "dist/index.js", build: { command: "npm run build", output: "dist" }, appPort: 3000 },
  nuxt: { framework: "nuxt", app: ".output/server/index.mjs", build: { command: "npm run build", output: ".output" } },
  astro: { framework: "astro", app: "dist/server/entry.mjs", build: { command: "npm run build", output: "dist" } },
  "react-router": { framework: "react-router", app: "react-router-serve ./build/server/index.js", build: { command: "npm run build", output: "build" } },
};

const apps = JSON.parse(fs.readFileSync(path.join(CORPUS, "apps.json"), "utf8")) as Array<{ name: string; dir: string; framework: string }>;

for (const app of apps) {
  test(`corpus ${app.name}: detected as ${EXPECTED[app.name]?.framework}, app and build as the framework runs them, nothing uncertain`, async () => {
    const want = EXPECTED[app.name];
    assert.ok(want, `an expectation for ${app.name}`);
    const r = await detectProject(path.join(CORPUS, app.dir), DEC_2026);
    const d = r.description;
    assert.equal(d.framework, app.framework, "apps.json's framework");
    assert.equal(d.framework, want.framework);
    assert.equal(d.app, want.app, r.reasons.app);
    assert.deepEqual(d.build, want.build, r.reasons.build);
    assert.equal(d.processes.web.app_port, want.appPort, r.reasons.port);
    assert.equal(r.framework.problem, null);
    assert.deepEqual(r.uncertain, [], JSON.stringify(r.reasons));
    if (want.build) assert.ok(r.framework.built.length > 0, "the build output the proof waits for");
  });
}

/** A scratch copy of a corpus app with `edits` (path → text, or null to delete). */
function variant(name: string, edits: Record<string, string | null>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `prodserver-fw-${name}-`));
  fs.cpSync(path.join(CORPUS, name), dir, { recursive: true, filter: (s) => !s.includes("node_modules") });
  for (const [f, text] of Object.entries(edits)) {
    if (text === null) fs.rmSync(path.join(dir, f), { force: true });
    else {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text);
    }
  }
  return dir;
}

test("Next.js without output: 'standalone' recommends it; with it: server.js, found where Next nests it", async () => {
  const plain = await detectProject(path.join(CORPUS, "nextjs-empty"), DEC_2026);
  assert.match(plain.framework.notes.join("\n"), /output: 'standalone' in next\.config\.ts/);
  const dir = variant("nextjs-empty", { "next.config.ts": 'export default { output: "standalone", distDir: "out-next" };\n' });
  const r = await detectProject(dir, DEC_2026);
  assert.equal(r.description.app, "server.js");
  assert.deepEqual(r.description.build, { command: "npm run build", output: "out-next" });
  assert.deepEqual(r.framework.notes, []);
  assert.deepEqual(r.framework.built, ["out-next/BUILD_ID", "out-next/standalone/server.js"]);
  assert.equal(r.framework.proofDir, undefined, "not built yet");
  // Built inside a workspace, Next puts server.js under the app's path below the tracing root.
  fs.mkdirSync(path.join(dir, "out-next/standalone/apps/web"), { recursive: true });
  fs.writeFileSync(path.join(dir, "out-next/standalone/apps/web/server.js"), "");
  const built = await detectProject(dir, DEC_2026);
  assert.equal(built.framework.proofDir, "out-next/standalone/apps/web");
  assert.deepEqual(built.framework.built, ["out-next/BUILD_ID", "out-next/standalone/apps/web/server.js"]);
});

test("what cannot be served names the file, what was found and the change", async () => {
  const cases: Array<[string, Record<string, string | null>, RegExp, RegExp, RegExp]> = [
    ["nextjs-empty", { "next.config.ts": "export default { output: 'export' };\n" }, /^next\.config\.ts$/, /static site/, /remove output: 'export'/],
    [
      "sveltekit",
      { "vite.config.ts": "import adapter from '@sveltejs/adapter-auto';\nexport default { plugins: [sveltekit({ adapter: adapter() })] };\n" },
      /^vite\.config\.ts$/,
      /adapter-auto, which builds no Node server/,
      /npx sv add sveltekit-adapter=adapter:node/,
    ],
    ["astro", { "astro.config.mjs": "import { defineConfig } from 'astro/config';\nexport default defineConfig({});\n" }, /^astro\.config\.mjs$/, /no server adapter/, /npx astro add node/],
    ["nuxt", { "nuxt.config.ts": "export default defineNuxtConfig({ nitro: { preset: 'node-cluster' } })\n" }, /^nuxt\.config\.ts$/, /forks its own workers/, /node-server/],
    ["react-router", { "react-router.config.ts": "export default { ssr: false };\n" }, /^react-router\.config\.ts$/, /static SPA/, /ssr: true/],
    [
      "express-listen",
      { "index.js": "const express = require('express');\nconst app = express();\napp.get('/', (req, res) => res.send('x'));\n" },
      /^index\.js$/,
      /neither exports the app nor starts a server/,
      /app\.listen\(process\.env\.PORT\)/,
    ],
  ];
  for (const [name, edits, file, found, change] of cases) {
    const r = await detectProject(variant(name, edits), DEC_2026);
    const p = r.framework.problem;
    assert.ok(p, `${name}: a problem`);
    assert.match(p.file, file, name);
    assert.match(p.found, found, name);
    assert.match(p.change, change, name);
  }
  // A package the image runs, listed as a devDependency: the image installs production dependencies only.
  const pkg = JSON.parse(fs.readFileSync(path.join(CORPUS, "fastify-cli/package.json"), "utf8"));
  pkg.devDependencies = { "fastify-cli": pkg.dependencies["fastify-cli"] };
  delete pkg.dependencies["fastify-cli"];
  const dev = await detectProject(variant("fastify-cli", { "package.json": JSON.stringify(pkg) }), DEC_2026);
  assert.equal(dev.framework.problem?.file, "package.json");
  assert.match(dev.framework.problem!.change, /npm install --save-prod fastify-cli/);
});

test("a JavaScript app whose start script runs its build output (a Babel or copy build) is served from the output, as it runs", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fw-babel-"));
  fs.mkdirSync(path.join(dir, "src"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "babel-app", scripts: { build: "babel src -d lib", start: "node lib/index.js" }, dependencies: { express: "^5" } }));
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { outDir: "lib" } }));
  fs.writeFileSync(path.join(dir, "src/index.js"), "import express from 'express';\nexpress().listen(process.env.PORT);\n");
  const r = await detectProject(dir, DEC_2026);
  assert.equal(r.description.app, "lib/index.js");
  assert.deepEqual(r.description.build, { command: "npm run build", output: "lib" });
  assert.deepEqual(r.framework.built, ["lib/index.js"], "the proof waits for the build");
  assert.deepEqual(r.uncertain, ["packageManager"], "no lockfile here; app and build are settled");
});

test("Astro in middleware mode is served by its handler export", async () => {
  const r = await detectProject(variant("astro", { "astro.config.mjs": "import node from '@astrojs/node';\nexport default { outDir: './out', adapter: node({ mode: 'middleware' }) };\n" }), DEC_2026);
  assert.equal(r.description.app, "out/server/entry.mjs#handler");
  assert.deepEqual(r.description.build, { command: "npm run build", output: "out" });
});

test("NestJS: the entry is where nest build writes it (tsconfig outDir and rootDir, nest-cli sourceRoot and entryFile)", async () => {
  // rootDir "." (no tsconfig.build.json): tsc keeps src/ under outDir, as `nest start` expects.
  const flat = await detectProject(variant("nestjs", { "tsconfig.build.json": null }), DEC_2026);
  assert.equal(flat.description.app, "dist/src/main");
  const custom = await detectProject(
    variant("nestjs", {
      "nest-cli.json": JSON.stringify({ sourceRoot: "server", entryFile: "boot", compilerOptions: { tsConfigPath: "tsconfig.app.json" } }),
      "tsconfig.app.json": '{ "extends": "./tsconfig.json", "compilerOptions": { "outDir": "./build/out", "rootDir": "./server" } }',
    }),
    DEC_2026,
  );
  assert.equal(custom.description.app, "build/out/boot");
  assert.deepEqual(custom.description.build, { command: "npm run build", output: "build/out" });
  assert.deepEqual(custom.framework.built, ["build/out/boot.js"]);
  // Once built, the file that exists wins (as `nest start` looks for it).
  const built = variant("nestjs", { "dist/src/main.js": "" });
  assert.equal((await detectProject(built, DEC_2026)).description.app, "dist/src/main");
});

/** The runtime stage of the Dockerfile rendered for the corpus app `name` (or a detected dir). */
async function runtimeStage(dirOrName: string): Promise<string> {
  const dir = path.isAbsolute(dirOrName) ? dirOrName : path.join(CORPUS, dirOrName);
  const { description } = await detectProject(dir, DEC_2026);
  const text = renderDockerfile(description);
  return text.slice(text.indexOf("FROM base AS runtime"), text.indexOf("USER "));
}

test("image layouts: the framework's output and what it needs, no more", async () => {
  const copies = (stage: string) => stage.split("\n").filter((l) => l.startsWith("COPY "));
  assert.deepEqual(copies(await runtimeStage("express-listen")), ["COPY --from=deps /app ./", "COPY --from=source /app ./"]);
  assert.deepEqual(copies(await runtimeStage("nestjs")), ["COPY --from=deps /app ./", "COPY --from=build /app/dist ./dist"], "no sources");
  assert.deepEqual(copies(await runtimeStage("sveltekit")), ["COPY --from=deps /app ./", "COPY --from=build /app/build ./build"]);
  assert.deepEqual(copies(await runtimeStage("astro")), ["COPY --from=deps /app ./", "COPY --from=build /app/dist ./dist"]);
  assert.deepEqual(copies(await runtimeStage("react-router")), ["COPY --from=deps /app ./", "COPY --from=build /app/build ./build"]);
  assert.deepEqual(
    copies(await runtimeStage("nuxt")),
    ["COPY --from=build /app/node_modules/prodserver/dist/prodserver-runtime.mjs ./node_modules/prodserver/dist/prodserver-runtime.mjs", "COPY --from=build /app/.output ./.output"],
    "Nitro's output carries its own node_modules",
  );
  const { description: nuxt } = await detectProject(path.join(CORPUS, "nuxt"), DEC_2026);
  assert.doesNotMatch(renderDockerfile(nuxt), /AS deps/, "no production install: prodserver comes from the build stage's");
  assert.match(
    renderDockerfile(nuxt),
    /^RUN npm ci --include=dev --no-audit --no-fund \\\n && if \[ ! -f \/app\/node_modules\/prodserver\/dist\/prodserver-runtime\.mjs \]; then echo "prodserver is not installed/m,
  );
  assert.deepEqual(copies(await runtimeStage("nextjs-empty")), ["COPY --from=deps /app ./", "COPY --from=source /app ./", "COPY --from=build /app/.next ./.next"]);
  const { description: next } = await detectProject(path.join(CORPUS, "nextjs-empty"), DEC_2026);
  assert.match(renderDockerfile(next), /^RUN npm run build\nRUN rm -rf \.next\/cache$/m, "next start does not need the build cache");
  assert.match(renderDockerfile(next), /^RUN mkdir -p \.next\/cache && chown 1000:1000 \.next\/cache\nUSER 1000:1000$/m, "Next.js writes its caches at run time");
  const { description: express } = await detectProject(path.join(CORPUS, "express-listen"), DEC_2026);
  assert.doesNotMatch(renderDockerfile(express), /chown/, "an app's folder stays read-only");

  const standalone = variant("nextjs-empty", { "next.config.ts": "export default { output: 'standalone' };\n" });
  const stage = await runtimeStage(standalone);
  assert.deepEqual(copies(stage), [
    "COPY --from=build /app/node_modules/prodserver/dist/prodserver-runtime.mjs ./node_modules/prodserver/dist/prodserver-runtime.mjs",
    "COPY --from=build /app/.next/standalone ./",
    "COPY --from=build /app/.next/static ./.next/static",
    "COPY --from=build /app/public ./public",
  ]);
  const { description: sa } = await detectProject(standalone, DEC_2026);
  assert.match(renderDockerfile(sa), /^RUN npm run build\nRUN mkdir -p public$/m, "an app without public/ still has one to copy");
  assert.match(renderDockerfile(sa), /"serve", "--bind", "0\.0\.0\.0:3000", "--workers", "auto", "server\.js"\]$/m);

  // In a workspace: the standalone tree (server.js nested under the app's path) goes to the workspace root.
  const ws = renderDockerfile(validateDescription({ ...sa, workspace: { path: "apps/web", package: "web" } }));
  assert.match(ws, /^COPY --from=build \/app\/apps\/web\/\.next\/standalone \.\/$/m);
  assert.match(ws, /^COPY --from=build \/app\/apps\/web\/\.next\/static \.\/apps\/web\/\.next\/static$/m);
  // A fixed port reaches the image's CMD.
  const { description: koa } = await detectProject(path.join(CORPUS, "koa"), DEC_2026);
  assert.match(renderDockerfile(koa), /"--app-port", "3000"/);
});
