/**
 * Values for the Kubernetes manifests (`deploy/k8s/<name>.yaml`, rendered by ./render.ts from
 * `templates/k8s.yaml.hbs` and `k8s-process.yaml.hbs`): the web Deployment, its Service (ClusterIP),
 * a PodDisruptionBudget, a HorizontalPodAutoscaler when `deploy.k8s.hpa` is set, and one Deployment
 * per other process type. Timeouts, sizing and the image come from ./derive.ts (one home per
 * fact); this module adds what only Kubernetes has — object names and probes.
 *
 * Kubernetes object names are checked here as DNS-1035 labels (what a Service name must be), so a
 * description name that is fine for an image (`my_app`, `1app`, `a.b`) but not for Kubernetes is an
 * {@link UnsafeValueError} naming `name`, never a manifest the API server rejects.
 *
 * Semantics and sources (the checklist in the shared anchors, §2.5):
 * - Probes (kubernetes.io "Configure Liveness, Readiness and Startup Probes"): startup gates the
 *   others with a budget `failureThreshold × periodSeconds ≥ health.startPeriod + health.retries ×
 *   period` (Docker's HEALTHCHECK `--start-period` + `--retries`); readiness hits `health.path` (the
 *   runtime's `/readyz` turns 503 while draining); liveness hits the runtime's own `/livez` (no
 *   dependency checks) and is lenient (derive's `timeouts.liveness`).
 * - Shutdown (kubernetes.io "Pod Lifecycle / Termination of Pods"): the kubelet runs preStop, then
 *   sends SIGTERM, and the grace period counts from the start of preStop. The native
 *   `lifecycle.preStop.sleep` action (KEP-3960; beta and on by default from Kubernetes 1.30, GA in
 *   1.34) keeps the pod serving while endpoints are removed, with no shell or binary in the image;
 *   `terminationGracePeriodSeconds = preStop + ceil(graceful_timeout) + 5`.
 * - Disruptions: PDB `maxUnavailable: 1` with `unhealthyPodEvictionPolicy: AlwaysAllow` (crash-looping
 *   pods never block a node drain); rolling update `maxSurge: 1`, `maxUnavailable: 0`.
 * - Security context: the Pod Security Standards "restricted" profile (runAsNonRoot, no privilege
 *   escalation, capabilities drop ALL, seccomp RuntimeDefault) plus readOnlyRootFilesystem with an
 *   emptyDir at /tmp; runAsUser/runAsGroup = deploy.uid, the image's numeric `USER`.
 */
import type { Description } from "../description/types.js";
import type { Derived, Sourced } from "./derive.js";
import { UnsafeValueError } from "./escape.js";

/** Web replicas when `processes.web.replicas` is not set (2: one can be evicted or rolled at a time). */
export const DEFAULT_REPLICAS = 2;
/** Seconds between startup-probe attempts. */
export const STARTUP_PERIOD_SECONDS = 2;
/** Service port (ClusterIP); the Service forwards it to the container's `port`. */
export const SERVICE_PORT = 80;

/** One probe; seconds and counts as the Probe API fields. */
export interface K8sProbe {
  path: string;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}

/** Values the web templates place. Seconds unless named otherwise. */
export interface K8sValues {
  name: string;
  /** `port` as the string an EnvVar value must be. */
  portEnv: string;
  servicePort: number;
  /** null when an HPA owns the replica count. */
  replicas: number | null;
  /** Seconds a new pod must be ready before it counts as available (one readiness period). */
  minReadySeconds: number;
  startup: K8sProbe;
  liveness: K8sProbe;
  readiness: K8sProbe;
  /** From `deploy.k8s.hpa`: replicas min/max, CPU target in percent of the request. */
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
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name usable for every kind we emit (Service names are the strictest:
 *  RFC 1035 labels, at most 63 characters). @throws UnsafeValueError naming `field`. */
export function k8sName(value: string, field: string): string {
  if (value.length > 63 || !DNS1035.test(value)) {
    throw new UnsafeValueError(field, "a Kubernetes object name", "expected a DNS-1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters (no '.', '_', leading digit or trailing '-')", value);
  }
  return value;
}

/**
 * Compute the web values and the other process types' Deployments.
 * @param d a validated description; `x` = derive(d).
 * @throws UnsafeValueError (a name that is not a Kubernetes name; names the field).
 */
export function k8sValues(d: Description, x: Derived): { k: K8sValues; others: K8sProcess[] } {
  const name = k8sName(d.name, "name");
  const sec = (v: number) => Math.max(1, Math.ceil(v));
  const interval = sec(d.health.interval);
  const timeout = sec(d.health.timeout);
  const live = x.timeouts.liveness;
  const hpa = d.deploy.k8s.hpa ?? null;
  const k: K8sValues = {
    name,
    portEnv: String(d.port),
    servicePort: SERVICE_PORT,
    replicas: hpa ? null : typeof d.processes.web.replicas === "number" ? d.processes.web.replicas : DEFAULT_REPLICAS,
    minReadySeconds: interval,
    startup: {
      path: "/livez",
      periodSeconds: STARTUP_PERIOD_SECONDS,
      timeoutSeconds: timeout,
      failureThreshold: Math.ceil(d.health.startPeriod / STARTUP_PERIOD_SECONDS) + d.health.retries,
    },
    liveness: { path: "/livez", periodSeconds: live.period, timeoutSeconds: live.timeout, failureThreshold: live.failureThreshold },
    readiness: { path: d.health.path, periodSeconds: interval, timeoutSeconds: timeout, failureThreshold: d.health.retries },
    hpa: hpa ? { min: hpa.min, max: hpa.max, cpu: hpa.cpu } : null,
  };
  const others = x.others.map((p) => ({
    name: k8sName(p.unit, `processes.${p.type}`),
    type: p.type,
    field: `processes.${p.type}`,
    replicasField: `processes.${p.type}.replicas`,
    argv: p.argv,
    replicas: p.replicas,
  }));
  return { k, others };
}
