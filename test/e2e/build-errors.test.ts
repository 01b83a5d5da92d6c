// buildImage against the real engine with small hand-written Dockerfiles: a failing RUN becomes a
// BuildError naming the step and carrying its output; progress renders as JSON Lines and as the
// human/quiet lines; a second build hits the layer cache.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { BuildError, buildImage, createBuildContext, createProgressRenderer, type BuildEvent } from "../../src/docker/index.js";
import { Cleanup, dockerClient, dockerSkip } from "../support/docker.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
const tag = `prodserver-e2e-errors:t${randomBytes(3).toString("hex")}`;

async function context(dockerfile: string): Promise<NodeJS.ReadableStream> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-e2e-err-"));
  cleanup.dir(dir);
  await fs.writeFile(path.join(dir, "hello.txt"), "hello\n");
  return createBuildContext(dir, { dockerfile });
}

describe("buildImage on the real engine", { skip: dockerSkip, timeout: 120_000 }, () => {
  after(() => cleanup.run());

  test("a failing RUN throws BuildError with the step number, instruction and the step's output", async () => {
    const ctx = await context("FROM node:20-bookworm-slim\nCOPY hello.txt /hello.txt\nRUN echo out-marker-5521 && echo err-marker-5521 >&2 && exit 3\n");
    const fresh = (ev: BuildEvent): void => {
      if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
    };
    const err = await buildImage(docker, ctx as never, { tags: [tag], onProgress: fresh }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof BuildError, `expected BuildError, got ${String(err)}`);
    assert.equal(err.step, 3);
    assert.match(err.instruction ?? "", /^RUN echo out-marker-5521/);
    assert.ok(
      err.output.some((l) => l.includes("out-marker-5521")),
      `output: ${err.output.join("|")}`,
    );
    assert.match(err.message, /step 3\/3.*returned a non-zero code: 3/s);
  });

  test("progress: JSON Lines in --json mode, one final line in --quiet, cache hits on a rebuild", async () => {
    const dockerfile = `FROM node:20-bookworm-slim\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\nLABEL e2e=${tag}\n`;
    const json: string[] = [];
    const jr = createProgressRenderer("json", (t) => json.push(t));
    const first = await buildImage(docker, (await context(dockerfile)) as never, { tags: [tag], onProgress: jr.onProgress });
    cleanup.image(first.imageId);
    jr.done(first);
    const events = json
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as BuildEvent | { type: "done" });
    assert.ok(events.filter((e) => e.type === "step").length === 4, "one step event per instruction");
    assert.equal(events.at(-1)?.type, "done");
    assert.ok(
      events.some((e) => e.type === "output" && (e as { text: string }).text === "hello"),
      "RUN output is an output event",
    );

    const quiet: string[] = [];
    const qr = createProgressRenderer("quiet", (t) => quiet.push(t));
    const second = await buildImage(docker, (await context(dockerfile)) as never, { tags: [tag], onProgress: qr.onProgress });
    qr.done(second);
    assert.equal(second.imageId, first.imageId, "same context and Dockerfile give the same image");
    assert.ok(second.cachedSteps >= 3, `rebuild uses the layer cache (${second.cachedSteps} cached)`);
    assert.equal(quiet.length, 1);
    assert.match(quiet[0], new RegExp(`^built ${tag} \\([0-9a-f]{12}\\) in [0-9.]+s, \\d+/4 steps cached\\n$`));
    assert.throws(() => createProgressRenderer("loud" as never, () => {}), /progress mode: "loud"/);
    await assert.rejects(buildImage(docker, (await context(dockerfile)) as never, { tags: ["Bad Tag"] }), /opts\.tags: "Bad Tag"/);
  });
});
