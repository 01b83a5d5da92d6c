/**
 * Render the deploy files from a description with the Handlebars templates in `templates/`
 * (strict: a missing variable throws; noEscape: no HTML escaping — every value goes through a
 * per-format helper from ./escape.ts instead, which throws naming the description field).
 *
 * Helpers take a *path* into the render context (`"d.deploy.nginx.serverName"`, `"x.dockerCmd"`):
 * `d` is the Description, `x` the Derived values, `pm` = `x.pm` (./package-manager.ts). For `d.*` the
 * field named in errors is the path without `d.`; derived lists carry their own field names.
 */
import fs from "node:fs";
import path from "node:path";
import Handlebars from "handlebars";
import type { Description } from "../description/types.js";
import { validateDescription } from "../description/validate.js";
import { derive, header, type Derived, type Sourced } from "./derive.js";
import { packageRoot } from "../package-root.js";
import * as esc from "./escape.js";
import { k8sValues } from "./k8s.js";
import { imageCopies } from "./image-layout.js";

/** The templates folder shipped with the package (`<package>/templates/`). */
export const TEMPLATES_DIR = path.join(packageRoot(), "templates") + path.sep;

/** What `renderFiles` can produce; `all` = every target. */
export const TARGETS = ["dockerfile", "dockerignore", "nginx", "systemd", "compose", "k8s"] as const;
export type Target = (typeof TARGETS)[number];
/** What `renderFiles(d)` renders without `targets`: everything but k8s (whose object names are
 *  stricter than `name`: DNS-1035, no `.`/`_`), which is rendered only when asked for (or `all`). */
export const DEFAULT_TARGETS: readonly Target[] = ["dockerfile", "dockerignore", "nginx", "systemd", "compose"];

/** A rendered file: `path` relative to the app folder, POSIX separators. */
export interface RenderedFile {
  path: string;
  content: string;
}

export interface RenderOptions {
  /** Targets to render; default {@link DEFAULT_TARGETS}; `all` = every target. Unknown names throw. */
  targets?: Array<Target | "all">;
  /** The description file's name, for the header of every file; default `prodserver.config.mjs`. */
  descriptionFile?: string;
}

/** Resolve `path` ("d.port") in the root context; strict like Handlebars: missing → Error. */
function lookup(root: Record<string, unknown>, p: string): unknown {
  let cur: unknown = root;
  for (const k of p.split(".")) {
    if (cur === null || typeof cur !== "object" || !(k in (cur as object))) {
      throw new Error(`template: "${p}" is not defined in the render context`);
    }
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

const fieldOf = (p: string, override: unknown) => (typeof override === "string" ? override : p.replace(/^d\./, ""));

/** A Handlebars environment with our helpers. Each helper: `{{helper "path" ["field override"]}}`. */
function environment(): typeof Handlebars {
  const hb = Handlebars.create();
  const scalar = (fn: (v: unknown, field: string) => string) =>
    function (this: unknown, p: string, ...rest: unknown[]) {
      const options = rest.pop() as Handlebars.HelperOptions;
      return fn(lookup(options.data.root, p), fieldOf(p, rest[0]));
    };
  const list = (fn: (items: Sourced[]) => string) =>
    function (this: unknown, p: string, options: Handlebars.HelperOptions) {
      const v = lookup(options.data.root, p);
      if (!Array.isArray(v)) throw new Error(`template: "${p}" is not a list`);
      return fn(v as Sourced[]);
    };
  hb.registerHelper({
    /** Join arguments into one string (to build a lookup path inside #each). */
    concat: (...args: unknown[]) => args.slice(0, -1).map(String).join(""),
    docker_path: scalar(esc.dockerPath),
    docker_run: scalar(esc.dockerRun),
    comment: scalar(esc.commentText),
    nginx: scalar(esc.nginxString),
    nginx_names: scalar(esc.nginxNames),
    compose: scalar(esc.composeScalar),
    k8s_expand: scalar(esc.k8sExpandable),
    systemd: scalar(esc.systemdValue),
    systemd_user: scalar(esc.systemdUserName),
    shell: scalar(esc.shellWord),
    yaml: scalar(esc.yamlScalar),
    int: scalar((v, f) => esc.integer(v, f)),
    num: scalar((v, f) => {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new esc.UnsafeValueError(f, "a generated file", "expected a number >= 0", v);
      return String(v);
    }),
    docker_args: list((items) => `[${items.map((i) => esc.dockerJson(i.value, i.field)).join(", ")}]`),
    systemd_args: list((items) => items.map((i, n) => (n === 0 ? esc.systemdExecutable(i.value, i.field) : esc.systemdArg(i.value, i.field))).join(" ")),
    systemd_lines: (p: string, key: string, options: Handlebars.HelperOptions) => {
      const v = lookup(options.data.root, p);
      if (!Array.isArray(v)) throw new Error(`template: "${p}" is not a list`);
      return (v as Sourced[]).map((i) => `${key}=${esc.systemdPathItem(i.value, i.field, true)}\n`).join("");
    },
    yaml_args: list((items) => `[${items.map((i) => esc.yamlScalar(i.value, i.field)).join(", ")}]`),
    compose_args: list((items) => `[${items.map((i) => esc.composeScalar(i.value, i.field)).join(", ")}]`),
    k8s_expand_args: list((items) => `[${items.map((i) => esc.k8sExpandable(i.value, i.field)).join(", ")}]`),
  });
  for (const f of fs.readdirSync(TEMPLATES_DIR)) {
    const m = /^_(.+)\.hbs$/.exec(f);
    if (m) hb.registerPartial(m[1], fs.readFileSync(`${TEMPLATES_DIR}/${f}`, "utf8"));
  }
  return hb;
}

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Render `templates/<name>.hbs` against `context` (strict). Throws on a missing variable/template. */
export function renderTemplate(name: string, context: Record<string, unknown>): string {
  let t = cache.get(name);
  if (!t) {
    const source = fs.readFileSync(new URL(`${name}.hbs`, `file://${TEMPLATES_DIR}`), "utf8");
    t = environment().compile(source, { strict: true, noEscape: true });
    cache.set(name, t);
  }
  return t(context).replace(/\n{3,}/g, "\n\n");
}

/** The render context shared by every template. */
export function renderContext(d: Description, opts: Pick<RenderOptions, "descriptionFile"> = {}): Record<string, unknown> {
  const x: Derived = derive(d);
  return { d, x, pm: x.pm, image: imageCopies(d, x.pm), header: header(opts.descriptionFile) };
}

/**
 * The Dockerfile for `description`: one file for every builder — plain `docker build`, `prodserver
 * build`, and `prodserver build --offline`, which only sets build ARGs and adds caches to the context.
 * @throws DescriptionError for an invalid description; UnsafeValueError naming the field.
 */
export function renderDockerfile(description: Description, opts: Pick<RenderOptions, "descriptionFile"> = {}): string {
  const d = validateDescription(description);
  return renderTemplate("Dockerfile", renderContext(d, opts));
}

/**
 * Render `deploy/k8s/<name>.yaml` (paths relative to the app folder, like renderFiles): the header
 * comment, then `---`-separated documents: Deployment, Service, PodDisruptionBudget, a
 * HorizontalPodAutoscaler when `deploy.k8s.hpa` is set, and a Deployment `<name>-<type>` per other
 * process type (see ./k8s.ts).
 * @throws DescriptionError (invalid description), UnsafeValueError naming the field (a name that is
 *   not a Kubernetes name, a value that cannot be written safely).
 */
export function renderK8sManifests(description: Description, opts: Pick<RenderOptions, "descriptionFile"> = {}): RenderedFile[] {
  const d = validateDescription(description);
  const ctx = renderContext(d, opts);
  const { k, others } = k8sValues(d, ctx.x as Derived);
  let content = renderTemplate("k8s.yaml", { ...ctx, k });
  for (const p of others) content += renderTemplate("k8s-process.yaml", { ...ctx, k, p });
  return [{ path: `deploy/k8s/${d.name}.yaml`, content }];
}

/**
 * The folder generated paths are relative to: the app folder, or for an app in a workspace the
 * workspace root (the build context, where `.dockerignore` must be; the app's files go under
 * `workspace.path`).
 */
export function projectRoot(appDir: string, d: Pick<Description, "workspace">): string {
  if (!d.workspace) return path.resolve(appDir);
  return path.resolve(appDir, ...d.workspace.path.split("/").map(() => ".."));
}

/**
 * {@link renderFiles} for the app in `appDir` whose description was loaded from `descriptionFile`
 * (its header names that file): the files, and the folder their paths are relative to
 * ({@link projectRoot}), which is what `writeFiles` / `checkFiles` take.
 */
export function renderProject(appDir: string, description: Description, descriptionFile: string, opts: Omit<RenderOptions, "descriptionFile"> = {}): { root: string; files: RenderedFile[] } {
  const files = renderFiles(description, { ...opts, descriptionFile: path.basename(descriptionFile) });
  return { root: projectRoot(appDir, description), files };
}

/**
 * Render the deploy files: `Dockerfile`, `.dockerignore`, `deploy/nginx/<name>.conf`,
 * `deploy/systemd/<name>.service` + `<name>.socket` (+ `<name>-<type>.service` per other process
 * type), `compose.yaml` (also a swarm stack), `deploy/k8s/<name>.yaml` (target k8s / all).
 * Paths are relative to {@link projectRoot} (the app folder, or the workspace root for an app in a
 * workspace); every shared value comes from one `derive(d)`.
 * @throws DescriptionError (invalid description), UnsafeValueError (a value that cannot be
 *   written safely; names the field), Error for an unknown target.
 */
export function renderFiles(description: Description, opts: RenderOptions = {}): RenderedFile[] {
  const d = validateDescription(description);
  const wanted = new Set<string>(opts.targets?.length ? opts.targets : DEFAULT_TARGETS);
  for (const t of wanted)
    if (t !== "all" && !(TARGETS as readonly string[]).includes(t)) {
      throw new Error(`unknown target ${JSON.stringify(t)}; expected one of ${TARGETS.join(", ")}, all`);
    }
  const on = (t: Target) => wanted.has("all") || wanted.has(t);
  const ctx = renderContext(d, opts);
  const x = ctx.x as Derived;
  const files: RenderedFile[] = [];
  if (on("dockerfile")) files.push({ path: "Dockerfile", content: renderTemplate("Dockerfile", ctx) });
  if (on("dockerignore")) files.push({ path: ".dockerignore", content: renderTemplate("dockerignore", ctx) });
  if (on("nginx")) files.push({ path: `deploy/nginx/${d.name}.conf`, content: renderTemplate("nginx.conf", ctx) });
  if (on("systemd")) {
    files.push({ path: `deploy/systemd/${d.name}.service`, content: renderTemplate("systemd.service", ctx) });
    files.push({ path: `deploy/systemd/${d.name}.socket`, content: renderTemplate("systemd.socket", ctx) });
    for (const p of x.others) {
      files.push({ path: `deploy/systemd/${p.unit}.service`, content: renderTemplate("systemd-process.service", { ...ctx, p }) });
    }
  }
  if (on("compose")) files.push({ path: "compose.yaml", content: renderTemplate("compose.yaml", ctx) });
  if (on("k8s")) files.push(...renderK8sManifests(d, { descriptionFile: opts.descriptionFile }));
  // In a workspace the build context is the workspace root: .dockerignore goes there, the rest
  // under the app's folder (paths relative to projectRoot()).
  const ws = d.workspace;
  if (!ws) return files;
  return files.map((f) => (f.path === ".dockerignore" ? f : { ...f, path: `${ws.path}/${f.path}` }));
}
