/**
 * Kubernetes manifests from a description: `deploy/k8s/<name>.yaml`, one multi-document YAML file
 * with the web Deployment, its Service (ClusterIP), a PodDisruptionBudget, an optional
 * HorizontalPodAutoscaler (autoscaling/v2), and one Deployment per other process type.
 *
 * Every number here is computed once from the description (as ./derive.ts does for the other
 * files) and the template `templates/k8s.yaml.hbs` only places it, through the same strict
 * Handlebars environment and per-format escaping (YAML double-quoted scalars) as the other files.
 * Kubernetes object names are checked here as DNS-1035 labels (what a Service name must be), so a
 * description name that is fine for an image (`my_app`, `1app`, `a.b`) but not for Kubernetes is an
 * {@link UnsafeValueError} naming `name`, never a manifest the API server rejects.
 *
 * Semantics and sources:
 * - Probes (kubernetes.io "Configure Liveness, Readiness and Startup Probes"): liveness hits the
 *   runtime's own `/livez` (no dependency checks; a failing liveness restarts the container), with a
 *   higher failureThreshold than readiness as the docs suggest; readiness hits `health.path` (the
 *   runtime's `/readyz` turns 503 while draining); startup gates both with a budget
 *   `failureThreshold × periodSeconds ≥ health.startPeriod + health.retries × period`, mirroring
 *   Docker's HEALTHCHECK `--start-period` + `--retries`.
 * - Shutdown (kubernetes.io "Pod Lifecycle / Termination of Pods"): the kubelet runs preStop, then
 *   sends SIGTERM, and the grace period counts from the start of preStop. preStop sleeps
 *   {@link PRESTOP_SECONDS} so kube-proxy/ingress controllers drop the endpoint before the runtime
 *   starts draining; then the runtime drains within `graceful_timeout` (Gunicorn's
 *   `graceful_timeout`). So `terminationGracePeriodSeconds = PRESTOP_SECONDS + ceil(graceful_timeout)
 *   + 5` (derive's `stopTimeout` is `ceil(graceful_timeout) + 5`), always above graceful_timeout.
 * - preStop is `exec ["/bin/sleep", "<n>"]`: the image's base is always `node:<node>-bookworm-slim`
 *   (the Dockerfile contract) where coreutils is Essential, so /bin/sleep exists; it costs nothing,
 *   whereas `node -e setTimeout(...)` would start a V8 isolate (tens of MB) inside the memory limit
 *   at shutdown. The native `lifecycle.preStop.sleep` action needs Kubernetes ≥ 1.30 (beta,
 *   default on) and older API servers reject it, so it is not used.
 * - Security context: the Pod Security Standards "restricted" profile (runAsNonRoot, no privilege
 *   escalation, capabilities drop ALL, seccomp RuntimeDefault) plus readOnlyRootFilesystem with an
 *   emptyDir at /tmp; runAsUser/runAsGroup = deploy.uid, the image's numeric `USER`.
 */
import type { Description, OtherProcess } from "../description/types.js";
import { validateDescription } from "../description/validate.js";
import { derive, type Sourced } from "./derive.js";
import { UnsafeValueError } from "./escape.js";
import { renderContext, renderTemplate, type RenderedFile } from "./render.js";

/** Seconds the preStop hook sleeps before SIGTERM so endpoints drain (see the module doc). */
export const PRESTOP_SECONDS = 5;
/** Web replicas when `processes.web.replicas` is not set (2: one can be evicted or rolled at a time). */
export const DEFAULT_REPLICAS = 2;
/** Seconds between startup-probe attempts. */
export const STARTUP_PERIOD_SECONDS = 2;
/** Service port (ClusterIP); the Service forwards it to the container's `port`. */
export const SERVICE_PORT = 80;

/** Options the description has no field for (the description schema is not the generator's). */
export interface K8sOptions {
  /** Render a HorizontalPodAutoscaler (autoscaling/v2) for the web Deployment, which then has no
   *  `replicas` (so `kubectl apply` does not reset the HPA's scale). `min`/`max`: replicas, integers
   *  1..1000 with min ≤ max; `cpu`: target average CPU utilization in percent of the CPU request,
   *  integer 1..1000, default 70. */
  hpa?: { min: number; max: number; cpu?: number };
  /** The description file's name, for the header; default `prodserver.config.mjs`. */
  descriptionFile?: string;
}

/** Requests/limits as Kubernetes quantities (`"250m"`, `"256Mi"`). */
export interface K8sResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** One probe; seconds and counts as the Probe API fields. */
export interface K8sProbe {
  path: string;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}

/** Values the template places. Seconds unless named otherwise. */
export interface K8sValues {
  name: string;
  image: string;
  port: number;
  /** `port` as the string an EnvVar value must be. */
  portEnv: string;
  servicePort: number;
  /** null when an HPA owns the replica count. */
  replicas: number | null;
  preStopSeconds: number;
  /** `["/bin/sleep", "<preStopSeconds>"]`. */
  preStopCommand: Sourced[];
  terminationGracePeriodSeconds: number;
  startup: K8sProbe;
  liveness: K8sProbe;
  readiness: K8sProbe;
  resources: K8sResources;
  hpa: { min: number; max: number; cpu: number } | null;
}

/** Another process type's Deployment. */
export interface K8sProcess {
  /** `<name>-<type>`. */
  name: string;
  type: string;
  /** Description fields errors name: `processes.<type>`, `processes.<type>.replicas`. */
  field: string;
  replicasField: string;
  argv: Sourced[];
  replicas: number;
  terminationGracePeriodSeconds: number;
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name usable for every kind we emit (Service names are the strictest:
 *  RFC 1035 labels, at most 63 characters). @throws UnsafeValueError naming `field`. */
export function k8sName(value: string, field: string): string {
  if (value.length > 63 || !DNS1035.test(value)) {
    throw new UnsafeValueError(
      field,
      "a Kubernetes object name",
      "expected a DNS-1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters (no '.', '_', leading digit or trailing '-')",
      value,
    );
  }
  return value;
}

/** Worker processes to size resources for: the number, 2 for `auto` (the CPU limit then makes
 *  `auto` resolve to 2 in the container: the runtime reads the cgroup quota), 1 when unset. */
function workerCount(d: Description): number {
  const w = d.processes.web.workers;
  return typeof w === "number" ? w : w === "auto" ? 2 : 1;
}

/**
 * Resources for `workers` worker processes plus the arbiter: requests 250m CPU per worker and
 * 128Mi per process; limits 1 CPU per worker (so `workers: auto` sees exactly that many CPUs) and
 * twice the memory request. Defaults to edit in the generated file (the merge keeps the edit).
 */
export function webResources(workers: number): K8sResources {
  return {
    requests: { cpu: `${workers * 250}m`, memory: `${(workers + 1) * 128}Mi` },
    limits: { cpu: String(workers), memory: `${(workers + 1) * 256}Mi` },
  };
}

function checkInt(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${field}: expected an integer ${min}-${max} (value ${JSON.stringify(v)})`);
  }
  return v;
}

function hpaOf(opts: K8sOptions): K8sValues["hpa"] {
  if (opts.hpa === undefined) return null;
  const h = opts.hpa;
  if (h === null || typeof h !== "object") throw new TypeError(`hpa: expected { min, max, cpu? } (value ${JSON.stringify(h)})`);
  const min = checkInt(h.min, "hpa.min", 1, 1000);
  const max = checkInt(h.max, "hpa.max", min, 1000);
  const cpu = checkInt(h.cpu ?? 70, "hpa.cpu", 1, 1000);
  return { min, max, cpu };
}

/**
 * Compute the values of the web Deployment/Service/PDB/HPA and the other Deployments.
 * @param d a validated description.
 * @throws UnsafeValueError (a name that is not a Kubernetes name; names the field), RangeError /
 *   TypeError for bad `opts.hpa` (naming `hpa.min`, `hpa.max`, `hpa.cpu`).
 */
export function k8sValues(d: Description, opts: K8sOptions = {}): { k: K8sValues; others: K8sProcess[] } {
  const x = derive(d);
  const name = k8sName(d.name, "name");
  const hpa = hpaOf(opts);
  const sec = (v: number) => Math.max(1, Math.ceil(v));
  const interval = sec(d.health.interval);
  const timeout = sec(d.health.timeout);
  const k: K8sValues = {
    name,
    image: `${d.name}:${d.version}`,
    port: d.port,
    portEnv: String(d.port),
    servicePort: SERVICE_PORT,
    replicas: hpa ? null : typeof d.processes.web.replicas === "number" ? d.processes.web.replicas : DEFAULT_REPLICAS,
    preStopSeconds: PRESTOP_SECONDS,
    preStopCommand: ["/bin/sleep", String(PRESTOP_SECONDS)].map((value) => ({ field: "(generator)", value })),
    terminationGracePeriodSeconds: PRESTOP_SECONDS + x.stopTimeout,
    startup: {
      path: "/livez",
      periodSeconds: STARTUP_PERIOD_SECONDS,
      timeoutSeconds: timeout,
      failureThreshold: Math.ceil(d.health.startPeriod / STARTUP_PERIOD_SECONDS) + d.health.retries,
    },
    liveness: { path: "/livez", periodSeconds: interval, timeoutSeconds: timeout, failureThreshold: d.health.retries * 2 },
    readiness: { path: d.health.path, periodSeconds: interval, timeoutSeconds: timeout, failureThreshold: d.health.retries },
    resources: webResources(workerCount(d)),
    hpa,
  };
  const others = x.others.map((p) => ({
    name: k8sName(p.unit, `processes.${p.type}`),
    type: p.type,
    field: `processes.${p.type}`,
    replicasField: `processes.${p.type}.replicas`,
    argv: p.argv,
    replicas: (d.processes[p.type] as OtherProcess).replicas ?? 1,
    terminationGracePeriodSeconds: x.stopTimeout,
  }));
  return { k, others };
}

/**
 * Render `deploy/k8s/<name>.yaml` (paths relative to the app folder, like renderFiles).
 * @returns one file: the header comment, then `---`-separated documents: Deployment, Service,
 *   PodDisruptionBudget (maxUnavailable 1, so a single replica can still be drained), the HPA when
 *   `opts.hpa` is given, and a Deployment `<name>-<type>` per other process type (command = its argv).
 * @throws DescriptionError (invalid description), UnsafeValueError naming the field (a value that
 *   cannot be written safely), RangeError/TypeError for bad options.
 */
export function renderK8sManifests(description: Description, opts: K8sOptions = {}): RenderedFile[] {
  const d = validateDescription(description);
  const { k, others } = k8sValues(d, opts);
  const ctx = { ...renderContext(d, opts), k };
  let content = renderTemplate("k8s.yaml", ctx);
  for (const p of others) content += renderTemplate("k8s-process.yaml", { ...ctx, p });
  return [{ path: `deploy/k8s/${d.name}.yaml`, content }];
}
