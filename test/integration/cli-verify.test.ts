// create-prodserver proves what it detected before it writes anything (src/cli/verify.ts): real
// CLI processes on small apps whose dependencies are this repository's own installed packages
// (node_modules linked: express, typescript), booted by the real runtime bundle. Non-TTY (stdin
// closed), so every failure is exit 16 with the file, what was found and the change — and no file
// written. --no-install: adding prodserver from a registry is another test's subject.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const CREATE = path.join(root, "dist/src/cli/create.js");
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** An app folder with `files`; `installed` links this repository's node_modules into it. */
function app(files: Record<string, string>, installed = true): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-verify-"));
  dirs.push(dir);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  if (installed) fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function create(dir: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [CREATE, "--yes", "--no-install", ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** What create-prodserver may write: none of it may exist after a refusal. */
const written = (dir: string) => ["prodserver.config.mjs", "prodserver.config.json", "Dockerfile", ".dockerignore", "compose.yaml", "deploy"].filter((f) => fs.existsSync(path.join(dir, f)));

const LISTEN_ONLY = {
  "package.json": JSON.stringify({ name: "listen-only", version: "1.0.0", main: "index.js", dependencies: { express: "^5.0.0" } }),
  // The tutorial shape: exports nothing, listens on PORT.
  "index.js":
    "const express = require('express');\nconst app = express();\napp.get('/', (req, res) => res.send('Hello World!'));\napp.listen(process.env.PORT || 3000, () => console.log('listening'));\n",
};

test("an Express app that only calls listen() is booted, answers, and then written in listen mode", () => {
  const dir = app(LISTEN_ONLY);
  const r = create(dir);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^detected +express \("express" in the dependencies\): app "index\.js"$/m);
  assert.match(r.out, /^verified +app "index\.js" serves: GET \/readyz 200, GET \/ 200 in [\d.]+ s$/m);
  const config = fs.readFileSync(path.join(dir, "prodserver.config.mjs"), "utf8");
  assert.match(config, /framework: "express",\n {2}app: "index\.js",/);
  assert.ok(fs.existsSync(path.join(dir, "Dockerfile")));
});

test("dependencies not installed: exit 16 naming the install command, nothing written; --no-verify writes it marked unverified", () => {
  const dir = app(LISTEN_ONLY, false);
  const r = create(dir);
  assert.equal(r.code, 16, r.out + r.err);
  assert.match(r.err, /the app's dependencies are not installed \(no express in node_modules\)/);
  assert.match(r.err, /^hint: run `npm install` in \S+, then create-prodserver again$/m);
  assert.deepEqual(written(dir), []);
  const unverified = create(dir, ["--no-verify"]);
  assert.equal(unverified.code, 0, unverified.err);
  assert.match(unverified.out, /^unverified app "index\.js" was not booted \(--no-verify\)$/m);
  assert.ok(fs.existsSync(path.join(dir, "prodserver.config.mjs")));
});

test("build output missing: exit 16 naming the build script, nothing written; after the build it is proven and written", () => {
  const dir = app({
    "package.json": JSON.stringify({
      name: "built",
      type: "module",
      scripts: { build: "tsc", start: "node dist/index.js" },
      dependencies: { express: "^5.0.0" },
      devDependencies: { typescript: "5.9" },
    }),
    "tsconfig.json": JSON.stringify({ compilerOptions: { module: "NodeNext", target: "ES2022", outDir: "dist", rootDir: "src", skipLibCheck: true, types: [] }, include: ["src"] }),
    "src/index.ts": "// @ts-nocheck\nimport express from 'express';\nconst app = express();\napp.get('/', (req, res) => res.send('built'));\napp.listen(process.env.PORT ?? 3000);\n",
  });
  const r = create(dir);
  assert.equal(r.code, 16, r.out + r.err);
  assert.match(r.err, /the build output is missing \(dist\/index\.js\): express builds with `npm run build`/);
  assert.match(r.err, /^hint: run `npm run build` in \S+, then create-prodserver again$/m);
  assert.deepEqual(written(dir), []);
  const b = spawnSync("npm", ["run", "build"], { cwd: dir, encoding: "utf8" });
  assert.equal(b.status, 0, b.stdout + b.stderr);
  const again = create(dir);
  assert.equal(again.code, 0, again.out + again.err);
  assert.match(again.out, /^verified +app "dist\/index\.js" serves: GET \/readyz 200, GET \/ 200/m);
});

/** An app that boots, says ready, and answers every request with a 500. */
const BROKEN = {
  "package.json": JSON.stringify({ name: "broken", main: "index.js", dependencies: { express: "^5.0.0" } }),
  // A lockfile, so that on a terminal the package manager is detected, not asked.
  "package-lock.json": JSON.stringify({ name: "broken", lockfileVersion: 3, packages: {} }),
  "index.js": "const app = require('express')();\napp.get('/', () => { throw new Error('database unreachable'); });\napp.listen(process.env.PORT);\n",
};

test("an app that boots but answers 500: exit 16 with its output, nothing written", () => {
  const dir = app(BROKEN);
  const r = create(dir);
  assert.equal(r.code, 16, r.out + r.err);
  assert.match(r.err, /the app does not serve: GET \/readyz 200, but GET \/ answered 500/);
  assert.match(r.err, /database unreachable/, "the app's own output is shown");
  assert.match(r.err, /^hint: .*index\.js/m);
  assert.deepEqual(written(dir), []);
});

test("a framework set up for another platform: exit 16 naming the file and the change, before anything is installed or booted", () => {
  const dir = app(
    {
      "package.json": JSON.stringify({ name: "kit", type: "module", scripts: { build: "vite build" }, devDependencies: { "@sveltejs/kit": "^2", "@sveltejs/adapter-auto": "^6", vite: "^7" } }),
      "svelte.config.js": "import adapter from '@sveltejs/adapter-auto';\nexport default { kit: { adapter: adapter() } };\n",
    },
    false,
  );
  const r = create(dir);
  assert.equal(r.code, 16, r.out + r.err);
  assert.match(r.err, /svelte\.config\.js: the adapter is @sveltejs\/adapter-auto, which builds no Node server; the app cannot be served as it is/);
  assert.match(r.err, /^hint: switch to @sveltejs\/adapter-node: `npx sv add sveltekit-adapter=adapter:node`/m);
  assert.deepEqual(written(dir), []);
});

const noScript = spawnSync("script", ["--version"]).status === 0 ? false : "no script(1) to give the CLI a terminal";

/**
 * Run create-prodserver (no --yes) on a pseudo-terminal from script(1), typing `answer` once
 * `question` is on it. `text` is what the terminal showed, without escape sequences.
 */
async function onTerminal(dir: string, question: RegExp, answer: string): Promise<{ code: number | null; text: string; answered: boolean }> {
  const child = spawn("script", ["-qfec", `${process.execPath} ${CREATE} --no-install`, "/dev/null"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let answered = false;
  child.stdout.on("data", (b) => {
    out += b;
    if (!answered && question.test(out)) {
      answered = true;
      child.stdin.write(answer);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  clearTimeout(timer);
  return { code, text: out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ""), answered };
}

test("on a terminal, an app that does not serve is written only when the user says so", { skip: noScript }, async () => {
  const no = app(BROKEN);
  const refused = await onTerminal(no, /Write the files anyway\?/, "n\r");
  assert.ok(refused.answered, `the question was asked:\n${refused.text}`);
  assert.equal(refused.code, 16, refused.text);
  assert.match(refused.text, /the app does not serve: GET \/readyz 200, but GET \/ answered 500/);
  assert.deepEqual(written(no), []);

  const yes = app(BROKEN);
  const accepted = await onTerminal(yes, /Write the files anyway\?/, "y\r");
  assert.equal(accepted.code, 0, accepted.text);
  assert.match(accepted.text, /unproven +app "index\.js" \(GET \/readyz 200, but GET \/ answered 500\b.*\); written at your request/);
  assert.match(fs.readFileSync(path.join(yes, "prodserver.config.mjs"), "utf8"), /app: "index\.js"/);
});

test("on a terminal, a missing build is offered, run on yes, and the app then proven and written", { skip: noScript }, async () => {
  const dir = app({
    "package.json": JSON.stringify({
      name: "tty-app",
      type: "module",
      scripts: { build: "mkdir -p dist && cp src/index.js dist/index.js", start: "node dist/index.js" },
      dependencies: { express: "^5.0.0" },
    }),
    "package-lock.json": JSON.stringify({ name: "tty-app", lockfileVersion: 3, packages: {} }),
    "src/index.js": "import express from 'express';\nconst app = express();\napp.get('/', (req, res) => res.send('tty'));\napp.listen(process.env.PORT ?? 3000);\n",
  });
  const { code, text, answered } = await onTerminal(dir, /Run `npm run build` now\?/, "y\r");
  assert.ok(answered, `the build was offered:\n${text}`);
  assert.equal(code, 0, text);
  assert.match(text, /the build output is missing \(dist\/index\.js\): express builds with `npm run/);
  assert.match(text, /verified +app "dist\/index\.js" serves: GET \/readyz 200, GET \/ 200/);
  assert.ok(fs.existsSync(path.join(dir, "dist/index.js")), "the build ran");
  assert.match(fs.readFileSync(path.join(dir, "prodserver.config.mjs"), "utf8"), /app: "dist\/index\.js"/);
});
