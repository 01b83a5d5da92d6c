// Every package manager and install path, as users take them (issue 9 items 3 and 4): each
// committed fixture under test/fixtures/pm/ (made with the real package manager: one dependency,
// `ms`; the workspaces have a second app whose dependency, `is-number`, must stay out of the image)
// is copied, pointed at the loopback registry, given prodserver with `npm create prodserver@latest
// -- --yes`, then built twice with its unmodified, generated Dockerfile:
//   online:  `docker build --network host` (docker CLI) against the registry, through .npmrc / .yarnrc.yml
//   offline: the app's own `prodserver build --offline` (caches filled on the host; no network in the build)
// and both images are smoke-tested (once, when the offline build made the very same image). The figures (build seconds, image size, smoke result) are
// printed as test diagnostics: `node --test dist/test/e2e/package-managers.test.js | grep '# pm '`.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { formatReport, smokeOptionsFrom, smokeTest } from "../../src/docker/index.js";
import { Cleanup, dockerClient, dockerSkip } from "../support/docker.js";
import { sharedRegistry, type Registry } from "../support/registry.js";
import { DOCKER_CLI, dockerCliBuild, prepareFixture, prodserverBuild, type PreparedFixture } from "../support/install-paths.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
const run = randomBytes(3).toString("hex");
let reg: Registry;
let cacheDir: string;

/** fixture folder, app folder inside it, whether another workspace's dependency must be absent. */
const FIXTURES: Array<{ fixture: string; app: string; workspace: boolean }> = [
  { fixture: "npm", app: ".", workspace: false },
  { fixture: "pnpm", app: ".", workspace: false },
  { fixture: "yarn1", app: ".", workspace: false },
  { fixture: "yarn4", app: ".", workspace: false },
  { fixture: "yarn4-pnp", app: ".", workspace: false },
  { fixture: "npm-workspaces", app: "apps/web", workspace: true },
  { fixture: "pnpm-workspaces", app: "apps/web", workspace: true },
  { fixture: "yarn-workspaces", app: "apps/web", workspace: true },
];

/**
 * What one throwaway container of the image sees: installed packages named ms, prodserver and
 * is-number (any depth of node_modules under /app), and offline caches left in /app.
 */
async function imageContents(imageId: string): Promise<Record<"ms" | "prodserver" | "is-number" | "caches", string[]>> {
  const script =
    "for n in ms prodserver is-number; do echo \"== $n\"; find /app -path '*node_modules*' -name \"$n*\" -prune -print; done; echo '== caches'; ls -d /app/.prodserver /app/*/.prodserver /app/*/*/.prodserver 2>/dev/null; true";
  const r = await execa(DOCKER_CLI, ["run", "--rm", "--entrypoint", "sh", imageId, "-c", script]);
  const out: Record<string, string[]> = {};
  let key = "";
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    if (line.startsWith("== ")) out[(key = line.slice(3))] = [];
    else out[key].push(line);
  }
  return out as Record<"ms" | "prodserver" | "is-number" | "caches", string[]>;
}

async function checkImage(t: TestContext, p: PreparedFixture, fixture: string, imageId: string, workspace: boolean): Promise<void> {
  const c = await imageContents(imageId);
  assert.notDeepEqual(c.ms, [], "the app's dependency is in the image");
  assert.notDeepEqual(c.prodserver, [], "prodserver is in the image, as a dependency");
  assert.deepEqual(c.caches, [], "no offline caches in the image");
  if (workspace) assert.deepEqual(c["is-number"], [], "the other workspace's dependency stays out");
  t.diagnostic(`image ${imageId.slice(7, 19)} for ${p.d.name} (${fixture})`);
}

/** `--offline` builds the user's Dockerfile: a hand-added COPY line changes the image (issue 9: it used to render its own). */
async function handEdit(p: PreparedFixture, before: string): Promise<void> {
  const dockerfile = path.join(p.app, "Dockerfile");
  const text = await fs.readFile(dockerfile, "utf8");
  await fs.writeFile(path.join(p.app, "hand-edit.txt"), "added by hand\n");
  await fs.writeFile(dockerfile, text.replace(/^USER /m, "COPY hand-edit.txt ./hand-edit.txt\nUSER "));
  const r = await prodserverBuild(p, ["--offline", "--no-smoke"], cleanup, { PRODSERVER_CACHE_DIR: cacheDir });
  assert.equal(r.code, 0, r.output.split("\n").slice(-40).join("\n"));
  assert.ok(r.imageId && r.imageId !== before, "the edited Dockerfile made another image");
  const cat = await execa(DOCKER_CLI, ["run", "--rm", "--entrypoint", "cat", r.imageId!, "/app/hand-edit.txt"]);
  assert.equal(cat.stdout, "added by hand");
  assert.equal(await fs.readFile(dockerfile, "utf8"), text.replace(/^USER /m, "COPY hand-edit.txt ./hand-edit.txt\nUSER "), "the edit is kept on disk");
}

describe("package managers x install paths", { skip: dockerSkip, timeout: 1_800_000, concurrency: 3 }, () => {
  before(async () => {
    reg = await sharedRegistry();
    cacheDir = await fs.mkdtemp(path.join((await import("node:os")).tmpdir(), "prodserver-e2e-offline-cache-"));
    cleanup.dir(cacheDir);
  });
  after(() => cleanup.run());

  for (const { fixture, app, workspace } of FIXTURES) {
    test(`${fixture}: npm create prodserver, docker build --network host, prodserver build --offline; both smoke-tested`, async (t) => {
      const p = await prepareFixture(fixture, app, `prodserver-e2e-${fixture}-${run}`, reg, cleanup);
      const pkg = JSON.parse(await fs.readFile(path.join(p.app, "package.json"), "utf8"));
      assert.equal(pkg.dependencies.prodserver, `^${reg.version}`, "create-prodserver added prodserver to the app's dependencies");
      assert.equal(p.d.packageManager, fixture.replace(/-.*$/, "").replace(/\d+$/, ""), "the package manager was detected");
      assert.equal(p.d.workspace?.path ?? null, workspace ? app : null);

      // Online: the docker CLI on the unmodified Dockerfile, registry reached through host networking.
      const dockerfile = path.posix.join(app, "Dockerfile");
      const online = await dockerCliBuild(
        p.root,
        {
          dockerfile,
          tag: `${p.d.name}:online`,
          network: "host",
          // This machine's registry serves no package signatures (see PM_ENV); npm itself needs no flag.
          buildArgs: p.d.packageManager === "npm" ? {} : { COREPACK_INTEGRITY_KEYS: "0" },
        },
        cleanup,
      );
      const onlineSmoke = await smokeTest(docker, online.imageId, { ...smokeOptionsFrom(p.d), buildSeconds: online.seconds });
      assert.equal(onlineSmoke.ok, true, formatReport(onlineSmoke));
      assert.match(onlineSmoke.checks.find((c) => c.name === "get /")?.detail ?? "", new RegExp(`${fixture} 2m`), "the fixture's own app answered");
      await checkImage(t, p, fixture, online.imageId, workspace);
      t.diagnostic(
        `pm ${fixture} online: docker build --network host ${online.seconds.toFixed(1)} s, ${(onlineSmoke.image.sizeBytes / 1e6).toFixed(1)} MB, smoke ${onlineSmoke.ok ? "PASS" : "FAIL"} in ${onlineSmoke.seconds.toFixed(1)} s`,
      );

      // Offline: the app's own prodserver command builds the same Dockerfile with the caches it
      // ships. Its image is often the online one, byte for byte (the runtime stage copies content
      // the layer cache addresses by content): then that image's smoke test stands for both.
      const offline = await prodserverBuild(p, ["--offline", "--no-smoke"], cleanup, { PRODSERVER_CACHE_DIR: cacheDir });
      assert.equal(offline.code, 0, offline.output.split("\n").slice(-60).join("\n"));
      assert.ok(offline.imageId, offline.output.split("\n").slice(-30).join("\n"));
      const same = offline.imageId === online.imageId;
      const offlineSmoke = same ? onlineSmoke : await smokeTest(docker, offline.imageId, { ...smokeOptionsFrom(p.d), buildSeconds: offline.buildSeconds ?? 0 });
      assert.equal(offlineSmoke.ok, true, formatReport(offlineSmoke));
      if (!same) await checkImage(t, p, fixture, offline.imageId, workspace);
      t.diagnostic(
        `pm ${fixture} offline: prodserver build --offline ${offline.buildSeconds?.toFixed(1)} s, ${(offlineSmoke.image.sizeBytes / 1e6).toFixed(1)} MB, ` +
          (same ? "the same image as online (smoke PASS above)" : `smoke PASS in ${offlineSmoke.seconds.toFixed(1)} s`),
      );
      t.diagnostic(`pm ${fixture} npm create prodserver: ${p.createSeconds.toFixed(1)} s`);
      if (fixture === "npm") {
        // `npx prodserver build` with the registry on loopback builds what `docker build` built.
        const api = await prodserverBuild(p, ["--network", "host", "--no-smoke"], cleanup);
        assert.equal(api.code, 0, api.output.split("\n").slice(-40).join("\n"));
        assert.equal(api.imageId, online.imageId, "prodserver build (Engine API) and docker build (CLI) make the same image");
        t.diagnostic(`pm ${fixture} online: npx prodserver build --network host ${api.buildSeconds?.toFixed(1)} s, the same image as docker build`);
        await handEdit(p, offline.imageId!);
      }
    });
  }
});
