// The build context tar: what goes in and what never does, read back with a real tar parser.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import tarfs from "tar-fs";
import { createBuildContext, fillOfflineCache, listContextFiles } from "../../src/docker/index.js";
import { validateDescription } from "../../src/description/index.js";

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

test("secrets, VCS data, node_modules and the user's .prodserver never go in, whatever .dockerignore says; a Dockerfile does", async () => {
  const dir = await tree({
    "package.json": "{}",
    "src/app.js": "x",
    ".env": "S=1",
    ".env.local": "S=2",
    "config/.env": "S=3",
    ".git/HEAD": "ref",
    "node_modules/x/index.js": "x",
    "packages/a/node_modules/y/i.js": "y",
    ".prodserver/generated.json": "{}",
    Dockerfile: "FROM user",
    ".envrc": "kept: not a .env file",
    // An exception that tries to re-include them changes nothing.
    ".dockerignore": "!.env\n!.git\n!node_modules\n",
  });
  const files = await listContextFiles(dir);
  assert.deepEqual(files, [".dockerignore", ".envrc", "Dockerfile", "package.json", "src/app.js"]);
});

test(".dockerignore follows Docker's rules: root-anchored names, ** globs, ! exceptions inside excluded dirs", async () => {
  const dir = await tree({
    "package.json": "{}",
    "src/app.js": "x",
    "src/app.test.js": "t",
    "test/a.js": "t",
    "lib/test/b.js": "b",
    "docs/keep.md": "k",
    "docs/drop.md": "d",
    "coverage/lcov.info": "c",
    ".dockerignore": "# comment\ntest\n**/*.test.js\ndocs\n!docs/keep.md\ncoverage/\n",
  });
  assert.deepEqual(await listContextFiles(dir), [".dockerignore", "docs/keep.md", "lib/test/b.js", "package.json", "src/app.js"]);
});

test("the tar carries the folder's own Dockerfile (even when .dockerignore lists it), the offline caches and an exception for them", async () => {
  const dir = await tree({
    "package.json": "{}",
    "apps/web/package.json": "{}",
    "apps/web/Dockerfile": "FROM the-users-own\nRUN echo hand-edit\n",
    ".dockerignore": ".prodserver/\nDockerfile\n**/Dockerfile\n",
  });
  const offline = await tree({ "npm-cache/_cacache/index-v5/x": "entry", "corepack/v1/pnpm/10.0.0/pnpm.cjs": "// pnpm" });
  const out = await extract(await createBuildContext(dir, { dockerfilePath: "apps/web/Dockerfile", offlineDir: offline }));
  assert.equal(await fs.readFile(path.join(out, "apps/web/Dockerfile"), "utf8"), "FROM the-users-own\nRUN echo hand-edit\n");
  assert.equal(await fs.readFile(path.join(out, ".prodserver/offline/npm-cache/_cacache/index-v5/x"), "utf8"), "entry");
  assert.equal(await fs.readFile(path.join(out, ".prodserver/offline/corepack/v1/pnpm/10.0.0/pnpm.cjs"), "utf8"), "// pnpm");
  const ignore = await fs.readFile(path.join(out, ".dockerignore"), "utf8");
  assert.match(ignore, /^\.prodserver\/\n/);
  assert.match(ignore, /^!\.prodserver\/offline$/m);
  // Online, nothing is added and the .dockerignore is the folder's own.
  const online = await extract(await createBuildContext(dir, { dockerfilePath: "apps/web/Dockerfile" }));
  assert.equal(await fs.readFile(path.join(online, ".dockerignore"), "utf8"), ".prodserver/\nDockerfile\n**/Dockerfile\n");
  await assert.rejects(fs.access(path.join(online, ".prodserver")));
});

test("bad arguments fail with messages naming the problem", async () => {
  const noLock = await tree({ "package.json": "{}" });
  const d = (packageManager: string) => validateDescription({ name: "x", app: "a.js", packageManager });
  await assert.rejects(fillOfflineCache(noLock, d("npm")), /has no package-lock\.json or npm-shrinkwrap\.json; run `npm install` there/);
  await assert.rejects(fillOfflineCache(noLock, d("pnpm")), /has no pnpm-lock\.yaml; run `pnpm install` there/);
  await assert.rejects(createBuildContext(noLock), /no Dockerfile in .*prodserver generate dockerfile/);
  await assert.rejects(createBuildContext(noLock, { dockerfilePath: "../Dockerfile" }), /dockerfilePath "\.\.\/Dockerfile" must be a relative path inside/);
  await assert.rejects(createBuildContext(noLock, { dockerfile: "FROM x", offlineDir: "/nope" }), /opts\.offlineDir \/nope is not a directory/);
});
