// Kubernetes manifests: every document validates against the Kubernetes OpenAPI schemas
// (kubernetes-models' compiled validators) with no unknown field, and the values follow the description.
import { test } from "node:test";
import assert from "node:assert/strict";
import { k8sDocs as docs, k8sProblems as problems } from "../support/k8s.js";
import { validateDescription, type DescriptionInput } from "../../src/description/index.js";
import { renderContext, renderTemplate, renderDockerfile, HEADER, UnsafeValueError } from "../../src/generate/index.js";
import { renderK8sManifests, k8sValues, derive } from "../../src/generate/index.js";

type Obj = Record<string, any>;

const base: DescriptionInput = { name: "express-hello", version: "1.0.0", app: "src/app.js#app", processes: { web: { workers: 2 } } };
/** Render with `over` merged into the base description; `hpa` becomes deploy.k8s.hpa. */
const render = (over: Partial<DescriptionInput> = {}, opts: { hpa?: object } = {}) => {
  const raw = { ...base, ...over } as any;
  if (opts.hpa) raw.deploy = { ...raw.deploy, k8s: { hpa: opts.hpa } };
  const files = renderK8sManifests(validateDescription(raw));
  assert.equal(files.length, 1);
  return { path: files[0].path, content: files[0].content, docs: docs(files[0].content) };
};
const kind = (ds: Obj[], k: string) => ds.filter((d) => d.kind === k);
const web = (ds: Obj[]) => kind(ds, "Deployment").find((d) => d.metadata.name === ds[0].metadata.name)!;
const container = (ds: Obj[]) => web(ds).spec.template.spec.containers[0];

const VARIANTS: Array<[string, Partial<DescriptionInput>, object]> = [
  ["defaults", {}, {}],
  [
    "TS app, port 8080, auto workers, custom health",
    { name: "hono-ts", port: 8080, processes: { web: { workers: "auto", graceful_timeout: 20 } }, health: { path: "/health/ready", interval: 5, timeout: 2, startPeriod: 60, retries: 5 } },
    {},
  ],
  ["HPA", {}, { hpa: { min: 2, max: 10 } }],
  ["other process types", { processes: { web: { replicas: 3 }, worker: { command: "node dist/worker.js --queue default" }, jobs: { command: "node dist/jobs.js", replicas: 0 } } }, {}],
];

test("k8s: every document validates against the Kubernetes OpenAPI schemas, with no unknown field", () => {
  for (const [label, over, opts] of VARIANTS) {
    const r = render(over, opts);
    assert.ok(r.docs.length >= 3, label);
    for (const d of r.docs) assert.deepEqual(problems(d), [], `${label}: ${d.kind} ${d.metadata?.name}\n${r.content}`);
  }
});

test("k8s validator catches an unknown field, a wrong type and a missing required field (negative controls)", () => {
  const good = render().docs;
  assert.deepEqual(problems(web(good)), []);
  const typo = structuredClone(web(good));
  typo.spec.template.spec.containers[0].readinesProbe = typo.spec.template.spec.containers[0].readinessProbe;
  assert.match(problems(typo).join("\n"), /containers\[0\]\.readinesProbe: unknown field/);
  const nested = structuredClone(web(good));
  nested.spec.template.spec.containers[0].livenessProbe.httpGet.paht = "/x";
  assert.match(problems(nested).join("\n"), /httpGet\.paht: unknown field/);
  const wrongType = structuredClone(web(good));
  wrongType.spec.template.spec.containers[0].ports[0].containerPort = "3000";
  assert.match(problems(wrongType).join("\n"), /containerPort/);
  const missing = structuredClone(web(good));
  delete missing.spec.selector;
  assert.match(problems(missing).join("\n"), /selector/);
  const env = structuredClone(web(good));
  env.spec.template.spec.containers[0].env[0].value = 3000; // an unquoted number: the API rejects it
  assert.match(problems(env).join("\n"), /value/);
});

test("k8s: one file deploy/k8s/<name>.yaml, header first, Deployment + Service + PDB (+ HPA on request)", () => {
  const r = render();
  assert.equal(r.path, "deploy/k8s/express-hello.yaml");
  assert.equal(r.content.split("\n")[0], `# ${HEADER}`);
  assert.deepEqual(
    r.docs.map((d) => d.kind),
    ["Deployment", "Service", "PodDisruptionBudget"],
  );
  for (const d of r.docs) assert.equal(d.metadata.name, "express-hello");
  const h = render({}, { hpa: { min: 2, max: 10 } }).docs;
  assert.deepEqual(
    h.map((d) => d.kind),
    ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"],
  );
});

test("k8s: image <name>:<version>, no command override (the image's CMD runs prodserver serve), env PORT", () => {
  const c = container(render().docs);
  assert.equal(c.image, "express-hello:1.0.0");
  assert.equal(c.command, undefined);
  assert.equal(c.args, undefined);
  assert.deepEqual(c.env, [{ name: "PORT", value: "3000" }]);
  assert.equal(container(render({ version: "2.3.4-rc.1" }).docs).image, "express-hello:2.3.4-rc.1");
});

test("k8s: port drives containerPort, PORT, every probe's port and the Service targetPort (and matches the Dockerfile)", () => {
  for (const port of [3000, 8080, 1024]) {
    const ds = render({ port }).docs;
    const c = container(ds);
    assert.equal(c.ports[0].containerPort, port);
    assert.equal(c.env[0].value, String(port));
    for (const p of ["startupProbe", "livenessProbe", "readinessProbe"]) assert.equal(c[p].httpGet.port, port, p);
    const svc = kind(ds, "Service")[0];
    assert.deepEqual(svc.spec.ports, [{ name: "http", port: 80, targetPort: port, protocol: "TCP" }]);
    assert.equal(svc.spec.type, "ClusterIP");
    const df = renderDockerfile(validateDescription({ ...base, port }));
    assert.ok(df.includes(`EXPOSE ${port}\n`) && df.includes(`"0.0.0.0:${port}"`), "Dockerfile binds the same port");
  }
});

test("k8s: terminationGracePeriodSeconds = preStop 5 s + graceful_timeout + 5 s, always above graceful_timeout", () => {
  // [graceful_timeout, grace period]: undefined = the registry default (30 s).
  for (const [g, grace] of [
    [undefined, 40],
    [0.5, 11],
    [1, 11],
    [20, 30],
    [120, 130],
    [3600, 3610],
  ] as const) {
    const ds = render({ processes: { web: g === undefined ? {} : { graceful_timeout: g } } }).docs;
    const spec = web(ds).spec.template.spec;
    assert.equal(spec.terminationGracePeriodSeconds, grace, `graceful_timeout ${g}`);
    assert.deepEqual(spec.containers[0].lifecycle, { preStop: { sleep: { seconds: 5 } } }, "native sleep: no shell or binary needed in the image");
  }
});

test("k8s: probes: startup then readiness on health.path; liveness on /livez, lenient and above the runtime's worker timeout", () => {
  // [health, processes.web, readiness {period, timeout, failures}, liveness {period, timeout, failures}, startup failures]
  const cases: Array<[object, Record<string, number>, number[], number[], number]> = [
    [{}, {}, [10, 3, 3], [10, 5, 6], 13],
    [{ path: "/health/ready", interval: 5, timeout: 2, startPeriod: 60, retries: 5 }, {}, [5, 2, 5], [10, 5, 6], 35],
    [{ startPeriod: 0, retries: 1 }, { timeout: 120 }, [10, 3, 1], [10, 5, 24], 1],
    [{ interval: 2.5, timeout: 7.5, startPeriod: 7 }, { timeout: 0 }, [3, 8, 3], [10, 8, 6], 7],
    [{ interval: 30 }, {}, [30, 3, 3], [30, 5, 3], 13],
  ];
  for (const [health, webSettings, ready, live, startFailures] of cases) {
    const c = container(render({ health, processes: { web: webSettings } }).docs);
    const probe = (p: any) => [p.periodSeconds, p.timeoutSeconds, p.failureThreshold];
    assert.deepEqual(probe(c.readinessProbe), ready, JSON.stringify(health));
    assert.deepEqual(probe(c.livenessProbe), live, JSON.stringify([health, webSettings]));
    assert.equal(c.readinessProbe.httpGet.path, (health as any).path ?? "/readyz");
    assert.equal(c.livenessProbe.httpGet.path, "/livez");
    assert.deepEqual([c.startupProbe.httpGet.path, c.startupProbe.periodSeconds, c.startupProbe.failureThreshold], ["/livez", 2, startFailures]);
  }
});

test("k8s: securityContext: restricted Pod Security profile, deploy.uid, read-only root with an emptyDir /tmp", () => {
  for (const uid of [1000, 10001]) {
    const spec = web(render({ deploy: { uid } }).docs).spec.template.spec;
    assert.deepEqual(spec.securityContext, { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, seccompProfile: { type: "RuntimeDefault" } });
    const c = spec.containers[0];
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
    assert.deepEqual(spec.volumes, [{ name: "tmp", emptyDir: {} }]);
    assert.equal(spec.automountServiceAccountToken, false);
    assert.ok(renderDockerfile(validateDescription({ ...base, deploy: { uid } })).includes(`USER ${uid}:${uid}\n`), "same uid as the image");
  }
});

test("k8s: resources follow processes.web.workers; the CPU limit bounds workers: auto", () => {
  const res = (workers?: number | "auto") => container(render({ processes: { web: workers === undefined ? {} : { workers } } }).docs).resources;
  assert.deepEqual(res(2), { requests: { cpu: "500m", memory: "384Mi" }, limits: { cpu: "2", memory: "768Mi" } });
  assert.deepEqual(res(4).limits, { cpu: "4", memory: "1280Mi" });
  assert.deepEqual(res(undefined).limits, { cpu: "1", memory: "512Mi" });
  assert.equal(res("auto").limits.cpu, "2");
});

test("k8s: replicas from processes.web.replicas (default 2); PDB maxUnavailable 1; HPA owns replicas when asked", () => {
  assert.equal(web(render().docs).spec.replicas, 2);
  assert.equal(web(render({ processes: { web: { replicas: 5 } } }).docs).spec.replicas, 5);
  assert.equal(web(render({ processes: { web: { replicas: 0 } } }).docs).spec.replicas, 0);
  const ds = render({}, { hpa: { min: 3, max: 12, cpu: 60 } }).docs;
  assert.equal("replicas" in web(ds).spec, false, "an HPA-managed Deployment has no replicas (apply would reset the scale)");
  const pdb = kind(ds, "PodDisruptionBudget")[0];
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, web(ds).spec.selector.matchLabels);
  const hpa = kind(ds, "HorizontalPodAutoscaler")[0];
  const { behavior, ...rest } = hpa.spec;
  assert.deepEqual(rest, {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "express-hello" },
    minReplicas: 3,
    maxReplicas: 12,
    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }],
  });
  assert.equal(behavior.scaleDown.stabilizationWindowSeconds, 300, "scale down after 5 minutes of low load");
  assert.equal(behavior.scaleUp.stabilizationWindowSeconds, 0);
  assert.equal(pdb.spec.unhealthyPodEvictionPolicy, "AlwaysAllow", "crash-looping pods never block a node drain");
  assert.equal(kind(render({}, { hpa: { min: 1, max: 2 } }).docs, "HorizontalPodAutoscaler")[0].spec.metrics[0].resource.target.averageUtilization, 70);
  const hpaOf = (hpa: object) => () => renderK8sManifests(validateDescription({ ...base, deploy: { k8s: { hpa } } } as DescriptionInput));
  assert.throws(hpaOf({ min: 3, max: 2 }), /deploy\.k8s\.hpa\.max: must be >= min/);
  assert.throws(hpaOf({ min: 0, max: 2 }), /deploy\.k8s\.hpa\.min/);
  assert.throws(hpaOf({ min: 1, max: 2, cpu: 1.5 }), /deploy\.k8s\.hpa\.cpu/);
});

test("k8s: Service and PDB select exactly the web pods; other process types get their own Deployment and command", () => {
  const ds = render({
    processes: { web: {}, worker: { command: `node dist/worker.js --tag a:b #x "q" \\ {} 'y'`, replicas: 2 }, jobs: { command: "node dist/jobs.js" } },
  }).docs;
  const names = kind(ds, "Deployment").map((d) => d.metadata.name);
  assert.deepEqual(names, ["express-hello", "express-hello-jobs", "express-hello-worker"]);
  const worker = kind(ds, "Deployment")[2];
  const wc = worker.spec.template.spec.containers[0];
  assert.deepEqual(wc.command, ["node", "dist/worker.js", "--tag", "a:b", "#x", `"q"`, "\\", "{}", "'y'"], "argv survives YAML exactly");
  assert.equal(wc.image, "express-hello:1.0.0");
  assert.equal(worker.spec.replicas, 2);
  assert.equal(wc.ports, undefined);
  assert.equal(kind(ds, "Deployment")[1].spec.replicas, 1);
  const svc = kind(ds, "Service")[0];
  assert.deepEqual(svc.spec.selector, { "app.kubernetes.io/name": "express-hello", "app.kubernetes.io/component": "web" });
  assert.notDeepEqual(worker.spec.selector.matchLabels, svc.spec.selector, "the Service must not route to worker pods");
});

test("k8s: a value that cannot be a Kubernetes name or YAML scalar is an error naming the field, never a broken file", () => {
  // Valid for an image name, not for a Service name (DNS-1035 label).
  for (const name of ["my_app", "1app", "a.b", "app-"]) {
    assert.throws(
      () => renderK8sManifests(validateDescription({ ...base, name })),
      (e: unknown) => e instanceof UnsafeValueError && /^name: cannot be written into a Kubernetes object name/.test(e.message),
      name,
    );
  }
  // Rejected by the description schema first (the error names the field).
  assert.throws(() => renderK8sManifests({ ...validateDescription(base), name: "x\nkind: Secret" }), /^DescriptionError: name:/);
  assert.throws(() => renderK8sManifests({ ...validateDescription(base), health: { ...validateDescription(base).health, path: "/x\n  hostPort: 1" } }), /health\.path/);
  const long = "a".repeat(58);
  assert.throws(() => renderK8sManifests(validateDescription({ ...base, name: long, processes: { web: {}, worker: { command: "node w.js" } } })), /^UnsafeValueError: processes\.worker:/);
  // The template's own escaping, with validation bypassed: a newline never reaches the file.
  const d = validateDescription(base);
  const { k, others } = k8sValues(d, derive(d));
  const base_ = renderContext(d);
  const ctx = { ...base_, k, x: { ...(base_.x as object), image: "x:1\nkind: Secret" } };
  assert.throws(() => renderTemplate("k8s.yaml", ctx), /^UnsafeValueError: version: .*control character/);
  assert.equal(others.length, 0);
});
