// The offline build context also builds with BuildKit: export the context prodserver sends to the
// engine into a folder and build it with Debian's docker 20.10 CLI, `DOCKER_BUILDKIT=1 docker build`
// (BuildKit applies .dockerignore itself, unlike the classic builder used through the API).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { execa } from "execa";
import tarfs from "tar-fs";
import { formatReport, projectBuildContext, smokeOptionsFrom, smokeTest } from "../../src/docker/index.js";
import { Cleanup, dockerClient, dockerSkip, pathInImage } from "../support/docker.js";
import { prepareApp } from "../support/apps.js";

const DOCKER_2010 = "/usr/bin/docker";
const docker = dockerClient();
const cleanup = new Cleanup(docker);
const skip = dockerSkip || (existsSync(DOCKER_2010) ? false : `${DOCKER_2010} (docker CLI with BuildKit) is absent: BuildKit check skipped`);

describe("BuildKit builds the generated offline context", { skip, timeout: 300_000 }, () => {
  after(() => cleanup.run());

  test("DOCKER_BUILDKIT=1 docker build of the exported context succeeds and the image passes the smoke test", async () => {
    const { dir, d } = await prepareApp("examples/express-app", "buildkit", randomBytes(3).toString("hex"), cleanup);
    const out = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-e2e-bkctx-"));
    cleanup.dir(out);
    const { context, buildArgs } = await projectBuildContext(dir, d, { offline: true });
    await pipeline(context, tarfs.extract(out));
    assert.ok(existsSync(path.join(out, ".prodserver/offline/npm-cache/_cacache")), "the context carries the npm cache");
    assert.ok(!existsSync(path.join(out, ".env")), "the context carries no .env");
    const iid = path.join(out, "..", `${path.basename(out)}.iid`);
    cleanup.dir(iid);
    const args = Object.entries(buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
    const r = await execa(DOCKER_2010, ["build", "--iidfile", iid, "--progress", "plain", ...args, out], {
      env: { DOCKER_BUILDKIT: "1" },
      reject: false,
      all: true,
      timeout: 240_000,
    });
    if (existsSync(iid)) cleanup.image((await fs.readFile(iid, "utf8")).trim());
    assert.equal(r.exitCode, 0, `BuildKit build failed:\n${String(r.all).split("\n").slice(-40).join("\n")}`);
    const imageId = (await fs.readFile(iid, "utf8")).trim();
    assert.equal(await pathInImage(docker, imageId, "/app/node_modules/prodserver/dist/prodserver-runtime.mjs", cleanup), true, "the runtime, installed with the app's dependencies");
    assert.equal(await pathInImage(docker, imageId, "/app/.prodserver", cleanup), false, "no offline caches in the image");
    assert.equal(await pathInImage(docker, imageId, "/app/.env", cleanup), false, ".env not in the image");
    const report = await smokeTest(docker, imageId, smokeOptionsFrom(d));
    assert.equal(report.ok, true, formatReport(report));
  });
});
