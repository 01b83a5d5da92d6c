/**
 * Load the app a worker serves. Two forms of `app` (the APP argument):
 *
 * - **an export**, as Gunicorn's `util.import_app`: `module#export`, `module#factory()` (called
 *   and awaited) or `module:export` — the module is imported and the export served (handler mode);
 * - **a program**: `module` or `module ARG...` / `bin ARG...` (e.g. `build/index.js`,
 *   `next start`, `react-router-serve ./build/server/index.js`) — run the way `node module ARG...`
 *   runs it ({@link runMain}: `process.argv`, `require.main`), as PM2's `script` + `args`. If it
 *   starts a server on the served port, that server is served (listen mode, listen-capture.ts);
 *   if instead it exports a handler (its default export / `module.exports`), that is served.
 *   A `bin` is the name of a package binary in the app's dependencies (package.json `bin`).
 *
 * The module is resolved against the working directory: a file path (`src/app.js`, also tried
 * with `.js`/`.mjs`/`.cjs`/`/index.js`), else a package name resolved from the working directory.
 *
 * What the export may be (also what a factory may return):
 * - a Node request listener `(req, res)` — Express app, `koa.callback()`, plain `node:http` handler;
 *   recognised as a function declaring two or more parameters;
 * - an object with `fetch(request)` — Hono, or any fetch-handler object;
 * - a function `(request: Request) => Response | Promise<Response>` (one or zero parameters);
 * - a Koa app (an object with `callback()`): its `callback()` is used;
 * - a `node:http` Server (any `net.Server`) that was never listened on — Fastify's `app.server`
 *   after `await app.ready()`, Nest's `app.getHttpServer()` after `await app.init()`: the worker
 *   forwards each request to it (`server.emit("request", req, res)`, i.e. its own `request`
 *   listeners) and never calls its `listen()`; its sockets and timeouts are not used, its `upgrade`
 *   listeners get the worker's upgrade requests (WebSocket). Typically returned by an async factory, e.g.
 *   `export async function createApp() { const app = Fastify(); app.get("/", h); await app.ready(); return app.server; }`
 *   or `async () => { const app = await NestFactory.create(AppModule, { logger: false }); await app.init(); return app.getHttpServer(); }`.
 * Upgrades (WebSocket) otherwise go to the module's `upgrade(req, socket, head)` export, if any;
 * with neither, the worker answers `501 Not Implemented` and closes the socket.
 * Fetch handlers are served through `@hono/node-server`'s `getRequestListener`, imported only
 * when the app is one: loading it touches the `Request`/`Response` globals, which makes node load
 * undici, and it imports http2 — about 45 ms of CPU and 8 MB of RSS per process that a plain
 * (req, res) app, and the arbiter, never need (measured with --cpu-prof, 2026-11-21).
 */
import fs from "node:fs";
import net from "node:net";
import nodeModule from "node:module";
import path from "node:path";
import url from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import { shellSplit } from "../config.js";

type GetRequestListener = typeof import("@hono/node-server").getRequestListener;
let getRequestListener: GetRequestListener | undefined;
async function fetchAdapter(): Promise<GetRequestListener> {
  getRequestListener ??= (await import("@hono/node-server")).getRequestListener;
  return getRequestListener;
}

/** A node:http request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * The app could not be loaded: module missing, import threw, export missing or of the wrong
 * kind, factory threw. `modulePath` is the resolved file (or the spec when it did not resolve);
 * `cause` is the app's own error. Workers exit with code 4 (Gunicorn's APP_LOAD_ERROR).
 */
export class AppLoadError extends Error {
  constructor(
    readonly spec: string,
    readonly modulePath: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} (app ${JSON.stringify(spec)}, module ${modulePath})`, options);
    this.name = "AppLoadError";
  }
}

/** An app spec, parsed: an export to serve, or a program to run (see the module doc). */
export type AppSpec = { kind: "export"; module: string; exportName: string; factory: boolean } | { kind: "program"; module: string; args: string[] };

/**
 * Parse an app spec. `module#export`, `module:export`, `module#factory()` -> an export;
 * `module` or `module ARG...` (words split as a POSIX shell does, no expansion) -> a program.
 * @throws AppLoadError for an empty spec or unbalanced quotes.
 */
export function parseAppSpec(spec: string, split: (s: string) => string[] = (s) => shellSplit(s, "app")): AppSpec {
  const trimmed = spec.trim();
  const m = /^([^#:\s]+)[#:]([A-Za-z_$][\w$]*)(\(\))?$/.exec(trimmed);
  if (m) return { kind: "export", module: m[1], exportName: m[2], factory: Boolean(m[3]) };
  let words: string[];
  try {
    words = split(trimmed);
  } catch (e) {
    throw new AppLoadError(spec, spec, (e as Error).message);
  }
  if (!words.length || !words[0]) throw new AppLoadError(spec, spec, "expected module, module#export, module#factory() or a program with arguments");
  return { kind: "program", module: words[0], args: words.slice(1) };
}

/**
 * The file `mod` names relative to `cwd` as node resolves a path: `mod`, `mod.js`, `mod.mjs`,
 * `mod.cjs`, `mod/index.js` — or its package.json `main` for a folder (`node build` runs
 * `build/index.js`). Null when none exists.
 */
export function resolveFile(mod: string, cwd: string): string | null {
  const base = path.resolve(cwd, mod);
  const main = readJson(path.join(base, "package.json"))?.main;
  const candidates = [base, `${base}.js`, `${base}.mjs`, `${base}.cjs`, ...(typeof main === "string" ? [path.resolve(base, main)] : []), path.join(base, "index.js"), path.join(base, "index.mjs")];
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* try the next */
    }
  }
  return null;
}

/** Resolve the module part of an export spec to an absolute file path: a file ({@link resolveFile}), else a package name from `cwd`. Null when neither. */
export function resolveAppModule(mod: string, cwd: string): string | null {
  const file = resolveFile(mod, cwd);
  if (file || mod.startsWith(".") || path.isAbsolute(mod)) return file;
  try {
    return nodeModule.createRequire(path.join(cwd, "package.json")).resolve(mod);
  } catch {
    return null;
  }
}

/** What kind of servable thing `value` is (see the module doc), or null when it is none. */
function kindOf(value: unknown): "listener" | "fetch-fn" | "fetch-obj" | "koa" | "server" | null {
  if (typeof value === "function") return value.length >= 2 ? "listener" : "fetch-fn";
  if (value && typeof value === "object") {
    const o = value as { fetch?: unknown; callback?: unknown };
    if (typeof o.fetch === "function") return "fetch-obj";
    if (typeof o.callback === "function") return "koa";
    if (value instanceof net.Server) return "server";
  }
  return null;
}

/**
 * Turn what the module exported (or the factory returned) into a request listener, or null.
 * Loads the fetch adapter (`@hono/node-server`) only for a fetch handler.
 */
export async function toListener(value: unknown): Promise<RequestListener | null> {
  switch (kindOf(value)) {
    case "listener":
      return value as RequestListener;
    case "fetch-fn": {
      const fn = value as (r: Request) => Response | Promise<Response>;
      return (await fetchAdapter())((req) => fn(req), { overrideGlobalObjects: false }) as RequestListener;
    }
    case "fetch-obj": {
      const o = value as { fetch: (r: Request) => Response | Promise<Response> };
      const fetch = o.fetch.bind(value);
      return (await fetchAdapter())((req) => fetch(req), { overrideGlobalObjects: false }) as RequestListener;
    }
    case "koa": {
      const cb = (value as { callback: () => unknown }).callback.call(value);
      return typeof cb === "function" ? (cb as RequestListener) : null;
    }
    case "server": {
      const server = value as net.Server;
      return (req, res) => server.emit("request", req, res);
    }
    default:
      return null;
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "function") return `a function of ${v.length} parameter(s)`;
  if (typeof v === "object")
    return `an object with keys ${
      Object.keys(v as object)
        .slice(0, 8)
        .join(", ") || "(none)"
    }`;
  return `a ${typeof v}`;
}

/** A request handler found in the app: its listener, the module file, its upgrade handler if any. */
export interface AppHandler {
  listener: RequestListener;
  modulePath: string;
  upgrade?: UpgradeListener;
}

/**
 * Import an export-form app (`module#export`) and return its request listener (and its WebSocket
 * `upgrade` handler, if any).
 * @throws AppLoadError (every failure: the message names the module path; `cause` is the app's error)
 */
export async function loadExport(spec: string, cwd = process.cwd()): Promise<AppHandler> {
  const parsed = parseAppSpec(spec);
  if (parsed.kind !== "export") throw new AppLoadError(spec, spec, "expected module#export or module#factory()");
  const { module, exportName, factory } = parsed;
  const file = resolveAppModule(module, cwd);
  if (!file) throw new AppLoadError(spec, path.resolve(cwd, module), `cannot find module ${JSON.stringify(module)} from ${cwd}`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(url.pathToFileURL(file).href);
  } catch (e) {
    throw new AppLoadError(spec, file, `importing the app module failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  if (!(exportName in mod)) {
    const names = Object.keys(mod).join(", ") || "(none)";
    throw new AppLoadError(spec, file, `the module has no export ${JSON.stringify(exportName)} (exports: ${names})`);
  }
  let value = mod[exportName];
  // A CommonJS module imported from ESM: `module.exports = app` is the default export.
  if (exportName === "default" && value && typeof value === "object" && "default" in (value as object) && kindOf(value) === null) {
    value = (value as { default: unknown }).default;
  }
  if (factory) {
    if (typeof value !== "function") throw new AppLoadError(spec, file, `export ${JSON.stringify(exportName)} is ${describe(value)}, not a factory function`);
    try {
      value = await (value as () => unknown)();
    } catch (e) {
      throw new AppLoadError(spec, file, `the app factory ${exportName}() threw: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }
  const listener = await toListener(value);
  if (!listener) {
    throw new AppLoadError(
      spec,
      file,
      `export ${JSON.stringify(exportName)}${factory ? "()" : ""} is ${describe(value)}; expected a request listener (req, res), a { fetch } object, a (request) => Response function, or an http.Server`,
    );
  }
  return { listener, modulePath: file, upgrade: upgradeOf(value, mod) };
}

/**
 * The file a program-form app runs: `module` as a file (as `node module` finds it, see
 * {@link resolveFile}), else a package binary of that name from the app's dependencies (as
 * `npx module` finds it) — never a package's main module (`next` is Next.js's CLI, not its
 * library). @throws AppLoadError naming both tries.
 */
export function resolveProgram(spec: string, module: string, cwd = process.cwd()): string {
  const file = resolveFile(module, cwd) ?? resolveBin(module, cwd);
  if (!file) throw new AppLoadError(spec, path.resolve(cwd, module), `cannot find ${JSON.stringify(module)} from ${cwd}: no such file, and no installed package has a binary of that name`);
  return file;
}

/** node_modules folders a package can be found in from `cwd` (cwd's, then each parent's). */
function nodeModulesDirs(cwd: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(cwd); ; d = path.dirname(d)) {
    out.push(path.join(d, "node_modules"));
    if (path.dirname(d) === d) return out;
  }
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * The file of package binary `name`, as npm links it into node_modules/.bin: the package named
 * `name` first, then the app's dependencies (package.json `dependencies`, `devDependencies`),
 * each looked up in node_modules folders from `cwd` up; its `bin` (a string for a package's own
 * name, or an object of names). Null when none has it.
 */
export function resolveBin(name: string, cwd = process.cwd()): string | null {
  const app = readJson(path.join(cwd, "package.json")) ?? {};
  const deps = [app.dependencies, app.devDependencies].flatMap((d) => (d && typeof d === "object" ? Object.keys(d) : []));
  for (const pkg of [name, ...deps.filter((d) => d !== name)]) {
    for (const dir of nodeModulesDirs(cwd)) {
      const root = path.join(dir, pkg);
      const manifest = readJson(path.join(root, "package.json"));
      if (!manifest) continue;
      const bin = manifest.bin;
      const rel = typeof bin === "string" ? (pkg.replace(/^@[^/]+\//, "") === name ? bin : undefined) : bin && typeof bin === "object" ? (bin as Record<string, string>)[name] : undefined;
      if (typeof rel === "string" && fs.existsSync(path.join(root, rel))) return fs.realpathSync(path.join(root, rel));
      break; // found the package (nearest copy); it has no such binary
    }
  }
  return null;
}

/** True when node runs `file` as an ES module (.mjs, or .js/no extension under `"type": "module"`). */
export function isEsModule(file: string): boolean {
  const ext = path.extname(file);
  if (ext === ".mjs") return true;
  if (ext === ".cjs") return false;
  for (let d = path.dirname(file); ; d = path.dirname(d)) {
    const manifest = readJson(path.join(d, "package.json"));
    if (manifest) return manifest.type === "module";
    if (path.dirname(d) === d) return false;
  }
}

/**
 * Run `file` with `args` as `node file args...` would: `process.argv` becomes
 * `[node, file, ...args]`; CommonJS as node's `Module.runMain` loads it (so `require.main === module`,
 * which apps test before calling `listen()`), ES modules through `import()`. Resolves with the
 * module's exports (CommonJS: `{ default: module.exports }`) once its evaluation finished.
 * @throws the app's own error
 */
export async function runMain(file: string, args: readonly string[]): Promise<Record<string, unknown>> {
  process.argv = [process.argv[0], file, ...args];
  if (isEsModule(file)) return (await import(url.pathToFileURL(file).href)) as Record<string, unknown>;
  // `Module._load(file, null, true)` is what `Module.runMain` does for CommonJS (require.main ===
  // module), but always synchronously: with a `--import`/`--loader` preload in NODE_OPTIONS (an
  // OpenTelemetry register, say), runMain hands the file to the ESM loader and returns before the
  // module ran, and its export was never seen. PM2's fork container loads the script the same way.
  const M = nodeModule as unknown as { _load?: (request: string, parent: null, isMain: boolean) => unknown; _cache: Record<string, { exports: unknown } | undefined> };
  if (typeof M._load === "function") M._load(file, null, true);
  else nodeModule.createRequire(file)(file);
  return { default: M._cache[fs.realpathSync(file)]?.exports };
}

/**
 * The request handler a program's module offers, or null: its default export (`module.exports`)
 * if it is one of the kinds {@link loadExport} serves — except a function of no parameters,
 * which is a program's `main()` more often than a fetch handler.
 */
export async function handlerOf(mod: Record<string, unknown>, modulePath: string): Promise<AppHandler | null> {
  const value = mod.default;
  if (typeof value === "function" && value.length === 0) return null;
  if (value instanceof net.Server && value.listening) return null;
  const listener = kindOf(value) ? await toListener(value) : null;
  return listener ? { listener, modulePath, upgrade: upgradeOf(value, mod) } : null;
}

/** `(req, socket, head)` as node:http's Server 'upgrade' event (WebSocket handshakes). */
export type UpgradeListener = (req: IncomingMessage, socket: import("node:stream").Duplex, head: Buffer) => unknown;

/** The app's upgrade handler: an http.Server app's own 'upgrade' listeners, else the module's
 *  `upgrade(req, socket, head)` export, else undefined (the worker answers 501). */
function upgradeOf(value: unknown, mod: Record<string, unknown>): UpgradeListener | undefined {
  if (value instanceof net.Server && value.listenerCount("upgrade") > 0) return (req, sock, head) => value.emit("upgrade", req, sock, head);
  return typeof mod.upgrade === "function" ? (mod.upgrade as UpgradeListener) : undefined;
}
