// Values derived once: change one description value and every generated file follows. (Timeouts
// and keep-alive: test/integration/generate-timeouts.test.ts reads every file back.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAllDocuments, parse } from "yaml";
import { validateDescription, type DescriptionInput } from "../../src/description/index.js";
import { renderFiles, TARGETS, DEFAULT_TARGETS } from "../../src/generate/index.js";

const base: DescriptionInput = {
  name: "shop",
  version: "1.0.0",
  app: "dist/app.js#app",
  build: { command: "npm run build" },
  port: 3000,
  processes: { web: { workers: 2, graceful_timeout: 30, keepalive: 5 }, worker: { command: "node dist/jobs.js" } },
};

function render(over: (d: any) => void) {
  const raw = structuredClone(base) as any;
  over(raw);
  const files = renderFiles(validateDescription(raw), { targets: ["all"] });
  const get = (suffix: string) => files.find((f) => f.path.endsWith(suffix))!.content;
  return {
    files,
    docker: get("Dockerfile"),
    nginx: get("shop.conf"),
    service: get("shop.service"),
    worker: get("shop-worker.service"),
    socket: get("shop.socket"),
    compose: parse(get("compose.yaml")),
    k8s: parseAllDocuments(get("shop.yaml")).map((x) => x.toJS()),
  };
}

test("targets: every target renders with all; the default leaves k8s out", () => {
  const all = renderFiles(validateDescription(base), { targets: ["all"] }).map((f) => f.path);
  assert.deepEqual(all, [
    "Dockerfile",
    ".dockerignore",
    "deploy/nginx/shop.conf",
    "deploy/systemd/shop.service",
    "deploy/systemd/shop.socket",
    "deploy/systemd/shop-worker.service",
    "compose.yaml",
    "deploy/k8s/shop.yaml",
  ]);
  assert.deepEqual([...TARGETS].sort(), ["compose", "dockerfile", "dockerignore", "k8s", "nginx", "systemd"]);
  assert.ok(!DEFAULT_TARGETS.includes("k8s"));
  assert.ok(!renderFiles(validateDescription(base)).some((f) => f.path.startsWith("deploy/k8s/")));
  assert.deepEqual(
    renderFiles(validateDescription(base), { targets: ["compose", "k8s"] }).map((f) => f.path),
    ["compose.yaml", "deploy/k8s/shop.yaml"],
  );
});

test("port moves the bind, EXPOSE, health check, upstream, socket, compose and k8s ports", () => {
  const r = render((d) => (d.port = 8123));
  assert.match(r.docker, /^EXPOSE 8123$/m);
  assert.match(r.docker, /"--bind", "0\.0\.0\.0:8123"/);
  assert.match(r.docker, /"http:\/\/127\.0\.0\.1:8123\/readyz"/);
  assert.match(r.nginx, /server 127\.0\.0\.1:8123 fail_timeout=0;/);
  assert.match(r.socket, /^ListenStream=127\.0\.0\.1:8123$/m);
  assert.deepEqual(r.compose.services.web.ports, [{ target: 8123, published: 8123, protocol: "tcp" }]);
  assert.ok(r.compose.services.web.healthcheck.test.includes("http://127.0.0.1:8123/readyz"));
  const dep = r.k8s.find((k: any) => k.kind === "Deployment" && k.metadata.name === "shop");
  assert.equal(dep.spec.template.spec.containers[0].ports[0].containerPort, 8123);
  assert.equal(dep.spec.template.spec.containers[0].readinessProbe.httpGet.port, 8123);
  for (const f of r.files) assert.doesNotMatch(f.content, /\b3000\b/, `${f.path} still mentions the old port`);
});

test("health and uid follow into Dockerfile, compose and k8s", () => {
  const r = render((d) => {
    d.health = { path: "/up", interval: 7, timeout: 2, startPeriod: 11, retries: 4 };
    d.deploy = { uid: 4242 };
  });
  assert.match(r.docker, /HEALTHCHECK --interval=7s --timeout=2s --start-period=11s --retries=4 CMD .*"http:\/\/127\.0\.0\.1:3000\/up"\]/);
  assert.match(r.docker, /^USER 4242:4242$/m);
  const hc = r.compose.services.web.healthcheck;
  assert.deepEqual([hc.interval, hc.timeout, hc.start_period, hc.retries], ["7s", "2s", "11s", 4]);
  assert.equal(r.compose.services.web.deploy.update_config.monitor, `${11 + 7 * 4}s`);
  const pod = r.k8s.find((k: any) => k.kind === "Deployment" && k.metadata.name === "shop").spec.template.spec;
  assert.equal(pod.securityContext.runAsUser, 4242);
  assert.equal(pod.containers[0].readinessProbe.httpGet.path, "/up");
});
