// The generated .dockerignore keeps nested secrets out of the image, read back from real images:
// one built by the plain docker CLI (`docker build`, the context the CLI sends with the generated
// .dockerignore, copied whole into the image), one by `prodserver build --offline` (the generated
// Dockerfile). Keys, certificates, .env files, nested .git and test folders at any depth are absent;
// ordinary nested files are present (so the check can fail).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadDescription } from "../../src/description/index.js";
import { Cleanup, REPO_ROOT, dockerClient, dockerSkip, ensureBaseImage, pathInImage } from "../support/docker.js";
import { addProdserverNpm } from "../support/apps.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
after(() => cleanup.run());

const SECRETS = [
  ".env",
  "config/.env",
  "config/.env.production",
  "certs/server.key",
  "certs/server.pem",
  "deep/a/b/client.p12",
  "keys/id_rsa",
  "lib/.git/HEAD",
  "vendor/lib/.git",
  "src/__tests__/app.test.js",
  "lib/test/fixture.js",
  "src/app.spec.js",
  "logs/app.log",
];
const KEPT = ["app.js", "package.json", "config/app.json", "lib/testing.js", "certs/README.md"];

/** An app with the generated files and nested secrets; with `prodserver`, that is its only
 *  dependency (from the test registry, test/support/registry.ts: the image runs it). */
async function app(opts: { prodserver: boolean }): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-e2e-ignore-"));
  cleanup.dir(dir);
  const pkg = { name: "prodserver-e2e-ignore", version: "1.0.0", main: "app.js", dependencies: {} };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  fs.writeFileSync(
    path.join(dir, "package-lock.json"),
    JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: { "": { name: pkg.name, version: pkg.version } } }, null, 2),
  );
  fs.writeFileSync(path.join(dir, "app.js"), "module.exports = (req, res) => res.end('ok');\n");
  for (const f of [...SECRETS, ...KEPT.filter((k) => !fs.existsSync(path.join(dir, k)))]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), "secret\n");
  }
  const init = spawnSync(process.execPath, [path.join(REPO_ROOT, "dist/src/cli/create.js"), "--yes", "--no-install", "--no-verify"], { cwd: dir, encoding: "utf8" });
  assert.equal(init.status, 0, init.stderr);
  assert.match(fs.readFileSync(path.join(dir, ".dockerignore"), "utf8"), /^\*\*\/\*\.key$/m);
  if (opts.prodserver) await addProdserverNpm(dir);
  return dir;
}

async function absentAndPresent(image: string, root: string): Promise<void> {
  for (const f of SECRETS) assert.equal(await pathInImage(docker, image, `${root}/${f}`, cleanup), false, `${f} reached the image`);
  for (const f of KEPT) assert.equal(await pathInImage(docker, image, `${root}/${f}`, cleanup), true, `${f} is missing: the check would pass for the wrong reason`);
}

test("plain docker build: the context the CLI sends has no nested secret", { skip: dockerSkip }, async () => {
  const dir = await app({ prodserver: false });
  fs.writeFileSync(path.join(dir, "Dockerfile.plain"), "FROM node:20-bookworm-slim\nCOPY . /ctx\n");
  const tag = `prodserver-e2e-ignore-plain:${path.basename(dir).slice(-6).toLowerCase()}`;
  const r = spawnSync("docker", ["build", "-q", "-f", "Dockerfile.plain", "-t", tag, "."], { cwd: dir, encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "0" } });
  assert.equal(r.status, 0, r.stderr);
  const id = r.stdout.trim();
  cleanup.image(id);
  await absentAndPresent(id, "/ctx");
});

test("prodserver build --offline: the image's /app has no nested secret", { skip: dockerSkip }, async () => {
  const dir = await app({ prodserver: true });
  await ensureBaseImage((await loadDescription(dir)).description.node);
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "dist/src/cli/main.js"), "build", "--offline", "--no-smoke", "--quiet"], { cwd: dir, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const image = await docker.getImage("prodserver-e2e-ignore:1.0.0").inspect();
  cleanup.image(image.Id);
  await absentAndPresent(image.Id, "/app");
});
