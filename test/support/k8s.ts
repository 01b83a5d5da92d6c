/**
 * Kubernetes manifests read the way the API server would, without a cluster (none can be obtained
 * here): YAML parsed as 1.2 and 1.1 (sigs.k8s.io/yaml), each object validated against the
 * Kubernetes OpenAPI schemas (kubernetes-models' compiled validators) with unknown fields reported,
 * and the kubelet's `$(VAR)` expansion of container command/args/env values.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";

type Obj = Record<string, any>;
const MODELS: Record<string, { prototype: { validate(): void } }> = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
};

/**
 * Validate one object with the model's OpenAPI validator, and report fields the schema does not
 * know: the compiled validator reads every property its schema defines (and every key of a map), so
 * the data goes in through Proxies that record reads; an own key never read is an unknown field
 * (what `kubectl apply --validate=strict` and kubeconform -strict reject). Returns problems, [] = valid.
 */
export function k8sProblems(doc: Obj): string[] {
  const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!model) return [`no schema for ${doc.apiVersion} ${doc.kind}`];
  const read = new WeakMap<object, Set<PropertyKey>>();
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v;
    const seen = new Set<PropertyKey>();
    read.set(v, seen);
    return new Proxy(v, {
      get(t, k, r) {
        seen.add(k);
        return wrap(Reflect.get(t, k, r));
      },
      has(t, k) {
        seen.add(k);
        return Reflect.has(t, k);
      },
    });
  };
  const out: string[] = [];
  try {
    model.prototype.validate.call(wrap(doc));
  } catch (e) {
    out.push((e as Error).message);
  }
  const walk = (v: unknown, at: string) => {
    if (v === null || typeof v !== "object") return;
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
    for (const [k, x] of Object.entries(v)) {
      if (!read.get(v)?.has(k)) out.push(`${at}.${k}: unknown field`);
      walk(x, `${at}.${k}`);
    }
  };
  walk(doc, doc.kind);
  return out;
}

/** Parse a rendered multi-document file; YAML errors fail; YAML 1.1 (sigs.k8s.io/yaml) must read the same. */
export function k8sDocs(content: string): Obj[] {
  const parse = (version: "1.1" | "1.2") =>
    parseAllDocuments(content, { version, uniqueKeys: true }).map((d) => {
      assert.deepEqual(d.errors, [], `YAML errors in\n${content}`);
      assert.deepEqual(d.warnings, []);
      return d.toJS() as Obj;
    });
  const v12 = parse("1.2");
  assert.deepEqual(parse("1.1"), v12, "YAML 1.1 and 1.2 read the file differently");
  return v12;
}

/**
 * What the kubelet passes for a container command/args item or env value (expansion.go): `$$` is a
 * literal `$`; `$(NAME)` becomes the value of env var NAME when the container defines it, and
 * stays as written otherwise.
 */
export function kubeletExpand(s: string, env: Record<string, string>): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "$" || i === s.length - 1) {
      out += s[i];
      continue;
    }
    const next = s[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const end = s.indexOf(")", i + 2);
      const name = end === -1 ? null : s.slice(i + 2, end);
      if (name !== null && name in env) {
        out += env[name];
        i = end;
      } else out += "$";
    } else out += "$";
  }
  return out;
}
