// The build context tar: what goes in and what never does, read back with a real tar parser.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import tarfs from "tar-fs";
import { createBuildContext, fillNpmCache, listContextFiles } from "../../src/docker/index.js";

const tmp: string[] = [];
after(() => Promise.all(tmp.map((d) => fs.rm(d, { recursive: true, force: true }))));

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-ctx-"));
  tmp.push(dir);
  for (const [p, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await fs.writeFile(path.join(dir, p), content);
  }
  return dir;
}

async function extract(stream: NodeJS.ReadableStream): Promise<string> {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-ctx-out-"));
  tmp.push(out);
  await pipeline(stream, tarfs.extract(out));
  return out;
}

test("secrets, VCS data, node_modules and the user's .prodserver never go in, whatever .dockerignore says", async () => {
  const dir = await tree({
    "package.json": "{}", "src/app.js": "x", ".env": "S=1", ".env.local": "S=2", "config/.env": "S=3",
    ".git/HEAD": "ref", "node_modules/x/index.js": "x", "packages/a/node_modules/y/i.js": "y",
    ".prodserver/generated.json": "{}", "Dockerfile": "FROM user", ".envrc": "kept: not a .env file",
    // An exception that tries to re-include them changes nothing.
    ".dockerignore": "!.env\n!.git\n!node_modules\n",
  });
  const files = await listContextFiles(dir);
  assert.deepEqual(files, [".dockerignore", ".envrc", "package.json", "src/app.js"]);
});

test(".dockerignore follows Docker's rules: root-anchored names, ** globs, ! exceptions inside excluded dirs", async () => {
  const dir = await tree({
    "package.json": "{}", "src/app.js": "x", "src/app.test.js": "t", "test/a.js": "t", "lib/test/b.js": "b",
    "docs/keep.md": "k", "docs/drop.md": "d", "coverage/lcov.info": "c",
    ".dockerignore": "# comment\ntest\n**/*.test.js\ndocs\n!docs/keep.md\ncoverage/\n",
  });
  assert.deepEqual(await listContextFiles(dir), [".dockerignore", "docs/keep.md", "lib/test/b.js", "package.json", "src/app.js"]);
});

test("the tar carries the given Dockerfile, the runtime bundle, the npm cache and .dockerignore exceptions for them", async () => {
  const dir = await tree({
    "package.json": JSON.stringify({ name: "ctx-app", version: "1.0.0", dependencies: {} }),
    "package-lock.json": JSON.stringify({ name: "ctx-app", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "ctx-app", version: "1.0.0" } } }),
    "Dockerfile": "FROM the-users-own", ".dockerignore": ".prodserver/\n",
  });
  const bundle = path.join(dir, "..", `${path.basename(dir)}-bundle.mjs`);
  tmp.push(bundle);
  await fs.writeFile(bundle, "// runtime bundle\n");
  const cacheRoot = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-ctx-cache-"));
  tmp.push(cacheRoot);
  const cache = await fillNpmCache(dir, { cacheRoot });
  assert.equal(cache.reused, false);
  assert.equal((await fillNpmCache(dir, { cacheRoot })).reused, true, "a second fill for the same lockfile reuses the cache");
  const out = await extract(await createBuildContext(dir, { dockerfile: "FROM generated\n", runtimeBundle: bundle, offlineNpmCache: cache.dir }));
  assert.equal(await fs.readFile(path.join(out, "Dockerfile"), "utf8"), "FROM generated\n");
  assert.equal(await fs.readFile(path.join(out, ".prodserver/runtime/prodserver.mjs"), "utf8"), "// runtime bundle\n");
  await fs.access(path.join(out, ".prodserver/npm-cache/_cacache"));
  const ignore = await fs.readFile(path.join(out, ".dockerignore"), "utf8");
  assert.match(ignore, /^\.prodserver\/\n/);
  assert.match(ignore, /^!\.prodserver\/runtime\/prodserver\.mjs$/m);
  assert.match(ignore, /^!\.prodserver\/npm-cache$/m);
});

test("bad arguments and non-npm projects fail with messages naming the problem", async () => {
  const dir = await tree({ "package.json": "{}", "pnpm-lock.yaml": "lockfileVersion: 9\n" });
  await assert.rejects(fillNpmCache(dir), /offline builds support npm only for now/);
  const noLock = await tree({ "package.json": "{}" });
  await assert.rejects(fillNpmCache(noLock), /no package-lock\.json; run `npm install`/);
  await assert.rejects(createBuildContext(noLock, { dockerfile: "", runtimeBundle: "/nope" }), /opts\.dockerfile/);
  await assert.rejects(createBuildContext(noLock, { dockerfile: "FROM x", runtimeBundle: "/nope/bundle.mjs" }), /opts\.runtimeBundle .*npm run build/);
});
