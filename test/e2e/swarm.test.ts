// Rolling update on a one-node swarm: deploy the Express example's image as a 2-replica stack
// (`docker stack deploy`), drive load with wrk (bounded, loopback) through a load balancer
// container published on 127.0.0.1 (test/support/swarm-lb.mjs, nginx-like retry of failed
// connects; swarm's routing mesh needs IPVS, absent from this CI kernel), run
// `docker service update --image` to a new image mid-load, and report failed requests. The swarm
// is created for the test and left afterwards; an engine already in a swarm skips the test.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import { buildProject, fetchWithTimeout, imageTags, type BuildEvent } from "../../src/docker/index.js";
import { renderFiles } from "../../src/generate/index.js";
import type { Description } from "../../src/description/index.js";
import { Cleanup, REPO_ROOT, dockerClient, dockerSkip } from "../support/docker.js";
import { prepareApp } from "../support/apps.js";
import { DOCKER_CLI, adaptCompose, ensureSwarm, hasIpvs, leaveSwarm, onPath, runWrk, waitConverged } from "../support/swarm.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
const run = randomBytes(3).toString("hex");
const stack = `pse2e${run}`;
const service = `${stack}_web`;
let createdSwarm: { hadGwbridge: boolean } | null = null;
let lbId: string | null = null;
/** Set by the rolling-update test for the rollback test: the load balancer URL and the image now serving. */
let live: { url: string; v2: string } | null = null;
const LOAD_SECONDS = Number(process.env.PRODSERVER_SWARM_LOAD_SECONDS ?? 60);
/**
 * PRODSERVER_SWARM_NEGATIVE=1: negative control. One replica updated stop-first, i.e. an outage
 * during the update; the rolling-update test must then fail on failed requests (it did: 131670).
 */
const NEGATIVE = process.env.PRODSERVER_SWARM_NEGATIVE === "1";
const REPLICAS = NEGATIVE ? 1 : 2;

async function build(dir: string, d: Description, tag: string): Promise<string> {
  const fresh = (ev: BuildEvent): void => {
    if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
  };
  const r = await buildProject(docker, dir, d, { offline: true, tags: [tag], onProgress: fresh });
  cleanup.image(r.imageId);
  return r.imageId;
}

async function removeStack(): Promise<void> {
  await execa(DOCKER_CLI, ["stack", "rm", stack], { reject: false, timeout: 60_000 });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const services = await docker.listServices({ filters: { label: [`com.docker.stack.namespace=${stack}`] } });
    const networks = await docker.listNetworks({ filters: { label: [`com.docker.stack.namespace=${stack}`] } });
    const containers = await docker.listContainers({ all: true, filters: { label: [`com.docker.stack.namespace=${stack}`] } });
    if (!services.length && !networks.length && !containers.length) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.error(`swarm test: stack ${stack} not fully removed after 60 s`);
}

const skip =
  dockerSkip ||
  (onPath("wrk") ? false : "wrk is not installed (apt-get install wrk): swarm rolling-update test skipped") ||
  (onPath(DOCKER_CLI) ? false : `the ${DOCKER_CLI} CLI (for docker stack deploy) is not on PATH: swarm test skipped`);

describe("one-node swarm: rolling update under load", { skip, timeout: 600_000 }, () => {
  after(async () => {
    if (lbId)
      await docker
        .getContainer(lbId)
        .remove({ force: true })
        .catch(() => {});
    if (createdSwarm) {
      await removeStack();
      await leaveSwarm(docker, createdSwarm.hadGwbridge);
    }
    await cleanup.run();
  });

  test("docker service update to a new image while wrk runs: converges, failed requests reported", async (t) => {
    const swarm = await ensureSwarm(docker);
    if ("skip" in swarm) return t.skip(swarm.skip);
    createdSwarm = { hadGwbridge: swarm.hadGwbridge };
    t.diagnostic(`IPVS ${hasIpvs() ? "present" : "absent"}: clients go through the test's load balancer container, not the routing mesh`);

    // Two replicas; a short start period keeps swarm's update monitor (start period + interval x retries) at 11 s.
    const { dir, d } = await prepareApp("examples/express-app", "swarm", run, cleanup, {
      processes: { web: { workers: 2, graceful_timeout: 10, replicas: REPLICAS } },
      health: { startPeriod: 5 },
    });
    const [tag1] = imageTags(d);
    const tag2 = `${tag1}-2`;
    const v1 = await build(dir, d, tag1);
    await fs.writeFile(path.join(dir, "src/release.txt"), `second release ${run}\n`);
    const v2 = await build(dir, d, tag2);
    assert.notEqual(v1, v2, "the second release is a different image");

    const generated = renderFiles(d, { targets: ["compose"] }).find((f) => f.path === "compose.yaml");
    assert.ok(generated, "the generator renders compose.yaml");
    assert.match(generated.content, new RegExp(`image: "?${tag1}"?`), "compose.yaml names the image prodserver build tags");
    const stackDir = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-e2e-stack-"));
    cleanup.dir(stackDir);
    await fs.writeFile(path.join(stackDir, "compose.yaml"), NEGATIVE ? adaptCompose(generated.content).replace(/order: start-first/g, "order: stop-first") : adaptCompose(generated.content));
    const deploy = await execa(DOCKER_CLI, ["stack", "deploy", "--resolve-image", "never", "-c", path.join(stackDir, "compose.yaml"), stack], {
      reject: false,
      all: true,
      timeout: 60_000,
    });
    assert.equal(deploy.exitCode, 0, `stack deploy failed:\n${deploy.all}`);
    const up = await waitConverged(docker, service, v1, REPLICAS, 120);
    t.diagnostic(`stack ${stack}: ${REPLICAS} replicas of v1 healthy after ${up.toFixed(1)} s`);

    const lb = await docker.createContainer({
      Image: `node:${d.node}-bookworm-slim`,
      name: `${stack}-lb`,
      Cmd: ["node", "/lb.mjs"],
      Env: [`SERVICE=${service}`, `PORT=${d.port}`, "LISTEN=8080"],
      ExposedPorts: { "8080/tcp": {} },
      HostConfig: {
        Binds: [`${path.join(REPO_ROOT, "test/support/swarm-lb.mjs")}:/lb.mjs:ro`],
        PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
        NetworkMode: `${stack}_edge`,
      },
    });
    lbId = lb.id;
    await lb.start();
    const published = (await lb.inspect()).NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort;
    assert.ok(published, "load balancer port published on 127.0.0.1");
    const url = `http://127.0.0.1:${published}/`;
    const ready = Date.now() + 30_000;
    for (;;) {
      const ok = await fetchWithTimeout(url, 2000).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      assert.ok(Date.now() < ready, `${url} did not answer through the load balancer within 30 s`);
      await new Promise((r) => setTimeout(r, 250));
    }

    const r = await updateUnderLoad(url, tag2);
    assert.equal(r.exitCode, 0, `service update failed:\n${r.output}`);
    await waitConverged(docker, service, v2, REPLICAS, 60);
    const summary = `rolling update v1 -> v2 took ${r.seconds.toFixed(1)} s under ${LOAD_SECONDS} s of wrk -c 8: ${r.failed}; load balancer ${r.lb}`;
    t.diagnostic(summary);
    console.log(`swarm: ${summary}`);
    assert.ok(r.wrk.requests > 100, `wrk completed requests through the load balancer:\n${r.wrk.raw}`);
    assert.ok(r.seconds < LOAD_SECONDS - 2, `the update (${r.seconds.toFixed(1)} s) finished while wrk was still running`);
    assert.equal(r.wrk.errors, 0, `requests failed during the rolling update: ${r.failed}\n${r.wrk.raw}`);
    live = { url, v2 };
  });

  test("an update to an image that cannot boot rolls back by itself, with no failed request", async (t) => {
    if (!live) return t.skip("the rolling update test did not leave a live service");
    const { dir, d } = await prepareApp("test/fixtures/broken-app", "swarm-broken", run, cleanup, { health: { startPeriod: 5 } });
    const [brokenTag] = imageTags(d);
    await build(dir, d, brokenTag);
    const r = await updateUnderLoad(live.url, brokenTag);
    await waitConverged(docker, service, live.v2, REPLICAS, 60);
    const status = (await docker.getService(service).inspect()).UpdateStatus;
    const summary =
      `update to a broken image: ${status?.State} (${status?.Message}) after ${r.seconds.toFixed(1)} s ` + `(docker service update exit ${r.exitCode}) under wrk: ${r.failed}; load balancer ${r.lb}`;
    t.diagnostic(summary);
    console.log(`swarm: ${summary}`);
    // `docker service update --detach=false` exits 0 after an automatic rollback; the service's
    // UpdateStatus says what happened.
    assert.equal(status?.State, "rollback_completed", `swarm rolled the service back:\n${r.output}`);
    assert.equal(r.wrk.errors, 0, `requests failed while the bad release was tried: ${r.failed}\n${r.wrk.raw}`);
  });
});

/**
 * `docker service update --image` while wrk runs (LOAD_SECONDS, loopback): CLI exit code and
 * output, update seconds, the wrk result and the load balancer's counters.
 */
async function updateUnderLoad(url: string, image: string) {
  const load = runWrk(url, LOAD_SECONDS);
  await new Promise((r) => setTimeout(r, 3000));
  const started = performance.now();
  const update = await execa(DOCKER_CLI, ["service", "update", "--quiet", "--detach=false", "--image", image, service], {
    reject: false,
    all: true,
    timeout: Math.max(60, LOAD_SECONDS - 5) * 1000,
  });
  const seconds = (performance.now() - started) / 1000;
  const wrk = await load;
  const lb = JSON.stringify(
    await fetchWithTimeout(`${url}__lb`, 5000).then(
      (r) => r.json(),
      () => null,
    ),
  );
  const failed =
    `${wrk.errors} failed of ${wrk.requests + wrk.socket.connect} ` +
    `(non-2xx/3xx ${wrk.non2xx3xx}; socket connect ${wrk.socket.connect}, read ${wrk.socket.read}, write ${wrk.socket.write}, timeout ${wrk.socket.timeout})`;
  return { exitCode: update.exitCode ?? -1, output: String(update.all), seconds, wrk, lb, failed };
}
