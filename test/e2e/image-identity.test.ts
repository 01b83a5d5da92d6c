// The generated image runs as its own USER, also when processes.web.user/group are set (for a
// systemd host, where they are the unit's User=/Group=). The runtime stage's instructions that
// decide how the container starts — USER, EXPOSE, HEALTHCHECK, STOPSIGNAL, CMD — are taken verbatim
// from the rendered Dockerfile into a small image on the local base image, with the app and the
// runtime where installing the prodserver package puts them; prodserver's own smoke test (start,
// health, non-root, workers, respawn, SIGTERM) must pass on it. The runtime switches the workers'
// identity only when the arbiter runs as root, so a CMD passing --user/--group does not start
// under the image's non-root USER (the container exits 1 with the runtime's message; healthy fails).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { validateDescription } from "../../src/description/index.js";
import { derive, renderDockerfile } from "../../src/generate/index.js";
import { buildImage, createBuildContext, formatReport, smokeOptionsFrom, smokeTest } from "../../src/docker/index.js";
import { Cleanup, RUNTIME_BUNDLE, dockerClient, dockerSkip, ensureBaseImage } from "../support/docker.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
after(() => cleanup.run());

/** The runtime stage's instructions that decide how a container of the image starts. */
const STARTS = /^(USER|EXPOSE|HEALTHCHECK|STOPSIGNAL|CMD) /;

test("with processes.web.user/group set, the image's CMD starts as the image's non-root USER and passes the smoke test", { skip: dockerSkip, timeout: 300_000 }, async () => {
  const run = randomBytes(3).toString("hex");
  const d = validateDescription({
    name: "prodserver-e2e-identity",
    version: `t${run}`,
    node: "20",
    app: "app.js",
    port: 3000,
    processes: { web: { user: "www-data", group: "www-data", workers: 2, graceful_timeout: 5 } },
    health: { interval: 2 },
  });
  const generated = renderDockerfile(d);
  const runtimeStage = generated.slice(generated.indexOf("FROM base AS runtime"));
  const starts = runtimeStage.split("\n").filter((l) => STARTS.test(l));
  assert.deepEqual(
    starts.map((l) => l.split(" ")[0]),
    ["USER", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "CMD"],
    runtimeStage,
  );

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-e2e-identity-"));
  cleanup.dir(dir);
  await fs.writeFile(path.join(dir, "app.js"), 'module.exports = (req, res) => res.end("hello");\n');
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name: d.name, version: "1.0.0", main: "app.js" }));
  await fs.copyFile(RUNTIME_BUNDLE, path.join(dir, "prodserver-runtime.mjs"));
  const dockerfile = [
    `FROM node:${d.node}-bookworm-slim`,
    "WORKDIR /app",
    "ENV NODE_ENV=production",
    "COPY app.js package.json ./",
    `COPY prodserver-runtime.mjs ${derive(d).runtimeInImage}`,
    ...starts,
    "",
  ].join("\n");
  await ensureBaseImage(d.node);
  const tag = `prodserver-e2e-identity:t${run}`;
  const built = await buildImage(docker, await createBuildContext(dir, { dockerfile }), {
    tags: [tag],
    onProgress: (ev) => {
      if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
    },
  });
  cleanup.image(built.imageId);

  const report = await smokeTest(docker, tag, { ...smokeOptionsFrom(d), buildSeconds: built.seconds });
  assert.equal(report.ok, true, `${dockerfile}\n${formatReport(report)}`);
  for (const name of ["start", "healthy", "non-root", "processes", "sigterm"]) {
    assert.ok(
      report.checks.some((c) => c.name === name && c.ok),
      `check ${name} missing or failed:\n${formatReport(report)}`,
    );
  }
});
