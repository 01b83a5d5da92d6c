// compose.yaml: a valid Compose file (checked by the real `docker stack config`, which applies the
// compose schema for swarm stacks without needing a swarm) with the swarm deploy shape.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { parse } from "yaml";
import { validateDescription, type DescriptionInput } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";

const compose = (raw: DescriptionInput) => renderFiles(validateDescription(raw), { targets: ["compose"] })[0].content;

/** `docker stack config -c FILE`: exit status and output (null status when docker is absent). */
export function stackConfig(text: string): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-compose-"));
  fs.writeFileSync(path.join(dir, "compose.yaml"), text);
  const r = spawnSync("docker", ["stack", "config", "-c", path.join(dir, "compose.yaml")], { encoding: "utf8" });
  return { status: r.error ? null : r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
const hasStackConfig = spawnSync("docker", ["stack", "config", "--help"], { encoding: "utf8" }).status === 0;

const shop: DescriptionInput = {
  name: "shop",
  version: "2.1.0",
  app: "dist/app.js#app",
  processes: {
    web: { workers: 3, replicas: 4, graceful_timeout: 20 },
    worker: { command: "node dist/jobs.js --queue default" },
    mailer: { command: ["node", "-e", 'require("./mail.js").run("a b")'], replicas: 2 },
  },
};

test("swarm shape: replicas, healthcheck, start-first update with rollback, grace period, resources", () => {
  const y = parse(compose(shop));
  const web = y.services.web;
  assert.equal(web.image, "shop:2.1.0");
  assert.deepEqual(web.healthcheck.test, ["CMD", "node", "/app/node_modules/prodserver/dist/prodserver-runtime.mjs", "healthcheck", "--url", "http://127.0.0.1:3000/readyz"]);
  assert.equal(web.stop_grace_period, "25s");
  assert.equal(web.deploy.replicas, 4);
  assert.deepEqual(web.deploy.update_config, { parallelism: 1, order: "start-first", failure_action: "rollback", monitor: "50s" });
  assert.equal(web.deploy.rollback_config.order, "start-first");
  assert.deepEqual(web.deploy.resources.limits, { cpus: "3", memory: "1024M" });
  assert.deepEqual(web.deploy.resources.reservations, { cpus: "0.75", memory: "512M" });
  // Only web gets a port; other process types get their command and no HTTP health check.
  assert.deepEqual(Object.keys(y.services), ["web", "mailer", "worker"]);
  assert.deepEqual(y.services.worker.command, ["node", "dist/jobs.js", "--queue", "default"]);
  assert.deepEqual(y.services.mailer.command, ["node", "-e", 'require("./mail.js").run("a b")']);
  assert.equal(y.services.mailer.deploy.replicas, 2);
  for (const s of ["worker", "mailer"]) {
    assert.equal(y.services[s].ports, undefined);
    assert.deepEqual(y.services[s].healthcheck, { disable: true });
    assert.equal(y.services[s].stop_grace_period, "25s");
  }
});

test("docker stack config accepts the file", { skip: !hasStackConfig && "docker CLI with `stack config` not installed" }, () => {
  const r = stackConfig(compose(shop));
  assert.equal(r.status, 0, r.output);
  const defaults = stackConfig(compose({ name: "a", app: "x.js" }));
  assert.equal(defaults.status, 0, defaults.output);
});

test("the check can fail: docker stack config rejects an unknown key", { skip: !hasStackConfig && "no docker CLI" }, () => {
  const r = stackConfig(compose(shop).replace("    stop_signal: SIGTERM\n", "    stop_signal: SIGTERM\n    bogus_key: 1\n"));
  assert.notEqual(r.status, 0);
  assert.match(r.output, /bogus_key/);
});
