// End-to-end, library level: example app -> detectProject -> generator files -> offline build
// context -> buildImage (real Docker Engine) -> smokeTest. Also the broken app, whose smoke test
// must fail with the app's own error in the report.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Description } from "../../src/description/index.js";
import { buildProject, createProgressRenderer, formatReport, imageTags, smokeOptionsFrom, smokeTest, type BuildEvent, type SmokeReport } from "../../src/docker/index.js";
import { Cleanup, dockerClient, dockerSkip, pathInImage } from "../support/docker.js";
import { prepareApp } from "../support/apps.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
const run = randomBytes(3).toString("hex");
const prepare = (example: string, label: string, overrides = {}) => prepareApp(example, label, run, cleanup, overrides);

async function buildOffline(dir: string, d: Description): Promise<{ imageId: string; seconds: number; events: BuildEvent[] }> {
  const events: BuildEvent[] = [];
  const lines: string[] = [];
  const human = createProgressRenderer("human", (t) => lines.push(t));
  try {
    const r = await buildProject(docker, dir, d, {
      offline: true,
      tags: imageTags(d),
      onProgress: (ev) => {
        events.push(ev);
        human.onProgress(ev);
        // Layers this build created (stage images included) are ours to remove; cached ones are not.
        if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
      },
    });
    cleanup.image(r.imageId);
    return { imageId: r.imageId, seconds: r.seconds, events };
  } catch (e) {
    process.stderr.write(lines.join(""));
    throw e;
  }
}

function assertAllGreen(report: SmokeReport): void {
  const failed = report.checks.filter((c) => !c.ok && !c.informational);
  assert.deepEqual(failed, [], formatReport(report));
  assert.equal(report.ok, true, formatReport(report));
  for (const name of ["metadata", "healthy", "get /readyz", "get /", "non-root", "processes", "respawn", "files", "sigterm"]) {
    assert.ok(
      report.checks.some((c) => c.name === name && c.ok),
      `check ${name} missing or failed:\n${formatReport(report)}`,
    );
  }
  assert.equal(report.exitCode, 0);
}

describe("offline image build + smoke test of the examples", { skip: dockerSkip, timeout: 600_000 }, () => {
  after(() => cleanup.run());

  test("express-app: tags exist, smoke test all green, numeric non-root user, no .env/.git in the image", async () => {
    const { dir, d } = await prepare("examples/express-app", "express");
    const { imageId, events } = await buildOffline(dir, d);
    assert.ok(
      events.some((e) => e.type === "step"),
      "progress events include steps",
    );
    for (const tag of imageTags(d)) {
      assert.equal((await docker.getImage(tag).inspect()).Id, imageId, `tag ${tag} points at the built image`);
    }
    const info = await docker.getImage(imageId).inspect();
    assert.match(info.Config.User, /^[1-9]\d*(:\d+)?$/, "image USER is a numeric non-root uid");

    const report = await smokeTest(docker, imageId, { ...smokeOptionsFrom(d), buildSeconds: 0, hardened: true });
    assertAllGreen(report);

    assert.equal(await pathInImage(docker, imageId, "/app/package.json", cleanup), true, "positive control: app files are in the image");
    for (const p of ["/app/.env", "/app/.env.production", "/app/.git"]) {
      assert.equal(await pathInImage(docker, imageId, p, cleanup), false, `${p} must not be in the image`);
    }
  });

  test("ts-app: built with tsc in the image, smoke test green, typescript (devDependency) pruned", async () => {
    const { dir, d } = await prepare("examples/ts-app", "ts");
    await fs.mkdir(path.join(dir, "dist"), { recursive: true });
    await fs.writeFile(path.join(dir, "dist/app.js"), "throw new Error('stale host build must not ship');\n");
    const { imageId } = await buildOffline(dir, d);
    const report = await smokeTest(docker, imageId, { ...smokeOptionsFrom(d), hardened: true });
    assertAllGreen(report);
    assert.equal(await pathInImage(docker, imageId, "/app/node_modules/hono", cleanup), true, "positive control: runtime dependency present");
    assert.equal(await pathInImage(docker, imageId, "/app/dist/app.js", cleanup), true, "tsc output present");
    assert.equal(await pathInImage(docker, imageId, "/app/node_modules/typescript", cleanup), false, "typescript must be pruned");
    assert.equal(await pathInImage(docker, imageId, "/app/.env", cleanup), false, ".env must not be in the image");
  });

  test("broken-app: image builds, smoke test fails and the report carries the app's error", async () => {
    const { dir, d } = await prepare("test/fixtures/broken-app", "broken");
    const { imageId } = await buildOffline(dir, d);
    const report = await smokeTest(docker, imageId, d); // the contract form: a description
    const text = formatReport(report);
    assert.equal(report.ok, false, text);
    const healthy = report.checks.find((c) => c.name === "healthy");
    assert.ok(healthy && !healthy.ok, `the healthy check fails:\n${text}`);
    assert.ok(report.logs, "a failed report carries the container logs");
    assert.match(`${report.logs.stderr}\n${report.logs.stdout}`, /BROKEN_APP_SENTINEL_4711/);
    assert.match(text, /BROKEN_APP_SENTINEL_4711/, "formatReport shows the app's error");
    assert.notEqual(report.exitCode, 0, "the runtime exits non-zero when the app cannot load");
    const left = await docker.listContainers({ all: true, filters: { label: [`prodserver.smoke=${imageId}`] } });
    assert.deepEqual(left, [], "the smoke container is removed after a failure");
  });

  test("an image whose HEALTHCHECK fails: smoke test stops at unhealthy with the probe's output", async () => {
    const { dir, d } = await prepare("examples/express-app", "unhealthy", { health: { path: "/no-such-health-endpoint", startPeriod: 2 } });
    const { imageId } = await buildOffline(dir, d);
    const report = await smokeTest(docker, imageId, smokeOptionsFrom(d));
    const text = formatReport(report);
    const healthy = report.checks.find((c) => c.name === "healthy");
    assert.equal(report.ok, false, text);
    assert.ok(healthy && !healthy.ok, text);
    assert.match(healthy.detail, /unhealthy \(last probe exit 1/, text);
    assert.ok(!report.checks.some((c) => c.name === "get /"), "no HTTP checks after a failed health wait");
  });
});
