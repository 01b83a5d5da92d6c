// The timeout model (README "Timeouts"): change graceful_timeout, timeout, keepalive and
// proxyReadTimeout in the description, render every file, and read each value back with the
// format's reader — systemd's own unit dump, YAML for compose and k8s, nginx's token rules (and
// nginx -t), the Dockerfile's exec-form JSON — and the smoke test's options, against literal
// expectations.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { validateDescription, type DescriptionInput } from "../../src/description/index.js";
import { renderFiles, type RenderedFile } from "../../src/generate/index.js";
import { smokeOptionsFrom } from "../../src/docker/index.js";
import { k8sDocs } from "../support/k8s.js";
import { nginxDirectives, systemdRead } from "../support/judges.js";
import { nginxTest } from "../support/nginx.js";

/** Seconds in a systemd time span as its dump prints it (`35s`, `1min 35s`, `1h 2min`). */
function span(s: string): number {
  const units: Record<string, number> = { h: 3600, min: 60, s: 1, ms: 0.001 };
  return s.split(" ").reduce((n, part) => {
    const m = /^(\d+(?:\.\d+)?)(h|min|s|ms)$/.exec(part);
    assert.ok(m, `time span ${s}`);
    return n + Number(m[1]) * units[m[2]];
  }, 0);
}

/** Seconds in an nginx time (`60s`, `750ms`, `4s`). */
const nginxTime = (s: string) => (s.endsWith("ms") ? Number(s.slice(0, -2)) / 1000 : Number(s.replace(/s$/, "")));

/** Every file of `raw` (all targets, a worker process type added), read back. */
function readBack(raw: DescriptionInput) {
  const d = validateDescription({ ...raw, processes: { ...raw.processes, worker: { command: "node worker.js" } } });
  const files = renderFiles(d, { targets: ["all"] });
  const get = (suffix: string) => files.find((f: RenderedFile) => f.path.endsWith(suffix))!.content;
  const cmd = JSON.parse(
    get("Dockerfile")
      .split("\n")
      .filter((l) => l.startsWith("CMD "))
      .at(-1)!
      .slice(4),
  ) as string[];
  const flag = (name: string) => (cmd.includes(name) ? Number(cmd[cmd.indexOf(name) + 1]) : undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-timeouts-"));
  const units = files
    .filter((f) => f.path.startsWith("deploy/systemd/"))
    .map((f) => {
      const p = path.join(dir, path.basename(f.path));
      fs.writeFileSync(p, f.content);
      return p;
    });
  const sd = systemdRead(units);
  assert.equal(sd.output, "", "systemd-analyze verify is clean");
  const compose = parse(get("compose.yaml"));
  const k8s = k8sDocs(get(`deploy/k8s/${d.name}.yaml`));
  const deployment = (name: string) => k8s.find((x) => x.kind === "Deployment" && x.metadata.name === name)!.spec.template.spec;
  const conf = get(".conf");
  const ng = nginxDirectives(conf);
  const directive = (name: string) => ng.filter((x) => x.name === name).map((x) => x.args.join(" "));
  assert.equal(nginxTest([conf]).status, 0);
  const web = deployment(d.name);
  const live = web.containers[0].livenessProbe;
  return {
    runtime: { graceful: flag("--graceful-timeout"), timeout: flag("--timeout"), keepalive: flag("--keep-alive") },
    systemd: { web: span(sd.units.get(`${d.name}.service`)!.settings.TimeoutStopSec), worker: span(sd.units.get(`${d.name}-worker.service`)!.settings.TimeoutStopSec) },
    compose: { web: compose.services.web.stop_grace_period, worker: compose.services.worker.stop_grace_period },
    k8s: {
      web: web.terminationGracePeriodSeconds,
      preStop: web.containers[0].lifecycle.preStop.sleep.seconds,
      worker: deployment(`${d.name}-worker`).terminationGracePeriodSeconds,
      livenessBudget: live.periodSeconds * live.failureThreshold,
    },
    nginx: { read: directive("proxy_read_timeout").map(nginxTime), send: directive("proxy_send_timeout").map(nginxTime), keepalive: directive("keepalive_timeout").map(nginxTime) },
    smoke: { graceful: smokeOptionsFrom(d).gracefulTimeout },
  };
}

const base: DescriptionInput = { name: "timeouts", app: "app.js" };

test("graceful_timeout and timeout drive systemd, compose, k8s and nginx (every file read back)", () => {
  // [web settings, deploy.nginx, stop (systemd TimeoutStopSec = compose stop_grace_period = k8s worker grace), k8s web grace, nginx proxy timeouts, k8s liveness budget, the smoke test's graceful timeout]
  const cases: Array<[Record<string, number>, Record<string, number>, number, number, number, number, number]> = [
    [{}, {}, 35, 40, 60, 60, 30],
    [{ graceful_timeout: 50, timeout: 120 }, {}, 55, 60, 125, 240, 50],
    [{ graceful_timeout: 7.5, timeout: 0 }, {}, 13, 18, 60, 60, 7.5],
    [{ graceful_timeout: 90, timeout: 45 }, { proxyReadTimeout: 300 }, 95, 100, 300, 90, 90],
  ];
  for (const [webSettings, nginx, stop, grace, proxy, budget, smoke] of cases) {
    const r = readBack({ ...base, processes: { web: webSettings }, deploy: { nginx } });
    const label = JSON.stringify([webSettings, nginx]);
    assert.deepEqual([r.runtime.graceful, r.runtime.timeout], [webSettings.graceful_timeout, webSettings.timeout], label);
    assert.deepEqual(r.systemd, { web: stop, worker: stop }, label);
    assert.deepEqual(r.compose, { web: `${stop}s`, worker: `${stop}s` }, label);
    assert.deepEqual(r.k8s, { web: grace, preStop: 5, worker: stop, livenessBudget: budget }, label);
    assert.deepEqual(r.nginx.read, [proxy], label);
    assert.deepEqual(r.nginx.send, [proxy], label);
    assert.deepEqual(r.smoke, { graceful: smoke }, label);
  }
});

test("nginx's upstream keepalive_timeout stays below the runtime's keep-alive (both read from the files)", () => {
  for (const keepalive of [undefined, 10, 2.5, 1.5, 1]) {
    const r = readBack({ ...base, processes: { web: keepalive === undefined ? {} : { keepalive } } });
    const runtime = r.runtime.keepalive ?? 5; // unset: the runtime's default, 5 s
    assert.equal(r.nginx.keepalive.length, 1);
    assert.ok(r.nginx.keepalive[0] > 0 && r.nginx.keepalive[0] < runtime, `keepalive ${keepalive}: nginx ${r.nginx.keepalive[0]} s, runtime ${runtime} s`);
  }
  const off = readBack({ ...base, processes: { web: { keepalive: 0 } } });
  assert.deepEqual(off.nginx.keepalive, [], "runtime keep-alive off: no upstream keep-alive");
});
