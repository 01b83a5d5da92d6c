/**
 * Express, Koa, Hono (on @hono/node-server), Fastify (an app that calls `listen()` itself) and plain
 * `node:http`: apps whose entry is the user's own file. Generic detection (../detect.ts) found the
 * entry (package.json `main`, the `start` script's file, `index.js`, `src/index.ts`, ...); this
 * unit decides how the runtime serves it:
 *
 * - the entry exports the app (`module.exports = app`, `export const app`, a factory) → handler
 *   mode on that export (what generic detection chose);
 * - else the entry (or the `start` script's file, as express-generator's `bin/www`) starts its own
 *   server (`app.listen(...)`, `serve({...})`, `createServer(...).listen(...)`) → listen mode: the
 *   runtime runs it as `node <entry>` would and serves its `listen()` on the arbiter's sockets.
 *   When the source listens on a literal port and never reads `PORT` (Koa's and create-hono's
 *   `3000`), that port is `app_port`.
 *
 * Image: the app's files and its production dependencies (+ the build output when it has one),
 * as for any app: its files are the app.
 */
import type { Description } from "../types.js";
import { appFilesLayout, detectPort } from "./folder.js";
import type { AppFolder, Framework, FrameworkAdapter, FrameworkDetection, GenericEntry } from "./types.js";

/** The framework an entry app uses, by its dependencies (first match), else `node`. */
function which(app: AppFolder): Framework {
  if (app.depends("express")) return "express";
  if (app.depends("koa")) return "koa";
  if (app.depends("hono") || app.depends("@hono/node-server")) return "hono";
  if (app.depends("fastify")) return "fastify";
  return "node";
}

/** Whether `source` starts a server itself: `.listen(`, @hono/node-server's `serve(`, `Bun`-less `createServer(`. */
export function startsServer(source: string): boolean {
  return /\.listen\s*\(|\bserve\s*\(\s*\{|\bserve\s*\(\s*app\b/.test(source);
}

/** Whether `source` reads the port from the environment (`process.env.PORT`, `env.PORT`, `process.env["PORT"]`). */
export function readsPortEnv(source: string): boolean {
  return /\benv\s*(?:\.\s*PORT\b|\[\s*["'`]PORT["'`]\s*\])/.test(source) || /\{[^}]*\bPORT\b[^}]*\}\s*=\s*process\.env/.test(source);
}

/** The `start` script's `node <file>` (any extension, `bin/www` too) when it exists or is under the build output `output`, or null. */
function startFile(app: AppFolder, output: string | undefined): string | null {
  const start = app.pkg.scripts?.start;
  if (typeof start !== "string") return null;
  const m = /^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*node\s+(?:--?[\w-]+(?:=\S+)?\s+)*(\S+)\s*$/.exec(start.trim());
  if (!m) return null;
  const f = m[1].replace(/^\.\//, "");
  return app.has(f) || (output && f.startsWith(`${output}/`)) ? f : null;
}

export const serverEntry: FrameworkAdapter = {
  frameworks: ["express", "koa", "hono", "fastify", "node"],
  title: "Express, Koa, Hono, Fastify, node:http",
  detect(app: AppFolder, generic: GenericEntry): FrameworkDetection {
    const framework = which(app);
    // TypeScript sources and no build script: the output file is a guess, and so is the build.
    const unsure: Array<"app" | "build"> = generic.file && /\.(ts|mts|cts|tsx)$/.test(generic.file) && !generic.build ? ["app", "build"] : [];
    const base = { framework, build: generic.build, built: [] as string[], notes: [] as string[], appPort: null as number | null, unsure };
    const reasonsFramework = framework === "node" ? "no web framework in the dependencies: a node:http app" : `"${framework}" in the dependencies`;
    // The start script runs the build's output (a Babel or copy build) while generic detection
    // found a source file: production runs the output, as `node <file>` (listen mode, or its
    // default export when it starts no server), once it is built.
    const start = startFile(app, generic.build?.output);
    const output = generic.build?.output;
    if (start && output && start.startsWith(`${output}/`) && !generic.app.startsWith(`${output}/`)) {
      return {
        ...base,
        app: start,
        built: [start],
        reasons: { framework: reasonsFramework, app: `scripts.start runs \`node ${start}\`, the build's output: served as it runs (listen mode, or its export)` },
        problem: null,
      };
    }
    if (generic.exports && generic.file) {
      built(base, generic.app, generic);
      return {
        ...base,
        app: generic.app,
        reasons: { framework: reasonsFramework, app: `${generic.file} exports the app: served in handler mode` },
        problem: null,
      };
    }
    // The start script's file when generic detection found no entry that starts a server (bin/www).
    const entry =
      generic.file && startsServer(generic.source)
        ? { file: generic.file, app: generic.app, source: generic.source }
        : start && startsServer(app.read(start) ?? "")
          ? { file: start, app: start, source: app.read(start) ?? "" }
          : null;
    if (!entry) {
      const where = generic.file ?? "package.json";
      return {
        ...base,
        app: generic.app,
        reasons: { framework: reasonsFramework, app: generic.file ? `${generic.file} neither exports an app nor calls listen()` : "no entry file found" },
        problem: {
          file: where,
          found: generic.file
            ? "it neither exports the app nor starts a server (no listen() call)"
            : "no entry file: no `main`, no `start` script running `node <file>`, none of index.js, server.js, app.js, src/index.ts",
          change: generic.file
            ? `export the app (\`module.exports = app\` / \`export default app\`) or start it with \`app.listen(process.env.PORT)\` in ${generic.file}`
            : 'set "main" in package.json to the file that starts the server (or add "start": "node <file>")',
        },
      };
    }
    const fixed = readsPortEnv(entry.source) ? null : detectPort(entry.source);
    built(base, entry.app, generic);
    return {
      ...base,
      app: entry.app,
      appPort: fixed,
      reasons: {
        framework: reasonsFramework,
        app: `${entry.file} starts its own server and exports no app: served in listen mode (run as \`node ${entry.app}\`)`,
        port: fixed ? `${entry.file} always listens on ${fixed} (it does not read PORT): app_port ${fixed}` : `${entry.file} reads PORT, which the runtime sets`,
      },
      problem: null,
    };
  },
  image: (d: Description) => appFilesLayout(d, "The app's files"),
};

/** A built app's entry (`dist/index.js`) must exist before the proof: record it in `built`. */
function built(base: { built: string[] }, app: string, generic: GenericEntry): void {
  if (generic.build && app.startsWith(`${generic.build.output}/`)) base.built.push(app.split(/[#:\s]/)[0]);
}
