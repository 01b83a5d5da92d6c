/**
 * What a framework adapter is: one small unit per framework (./nextjs.ts, ./nestjs.ts, ...) that
 * says how the framework is recognised in an app folder, which `package.json` script builds it and
 * into which folder, what the runtime runs (`app`: a listen-mode program such as `next start`, or a
 * handler export), the port the app hard-codes (if any), and what the image's runtime stage must
 * carry. Detection (../detect.ts) asks the adapters in ./index.ts in order; the generator
 * (src/generate/image-layout.ts) asks the description's framework for its image layout.
 */
import type { Description } from "../types.js";

/** The frameworks detection knows: the description's `framework`. `node` is a plain `node:http` server. */
export const FRAMEWORKS = ["express", "koa", "hono", "fastify", "node", "fastify-cli", "nestjs", "nextjs", "sveltekit", "nuxt", "astro", "react-router"] as const;
/** One of {@link FRAMEWORKS}. */
export type Framework = (typeof FRAMEWORKS)[number];

/** Why an app cannot be served as it is: the file, what was found there, and the exact change to make. */
export interface Problem {
  /** The file (relative to the app folder) the change goes into, e.g. `vite.config.ts`. */
  file: string;
  /** What detection found there, e.g. `the adapter is @sveltejs/adapter-auto, which builds no Node server`. */
  found: string;
  /** The change, as a user types it, e.g. ``npm i -D @sveltejs/adapter-node` and import ...``. */
  change: string;
}

/** What the generic detection (../detect.ts) found before the adapters ran: the entry and its source. */
export interface GenericEntry {
  /** The `app` value generic detection chose (`app.js`, `dist/index.js#app`). */
  app: string;
  /** The source file it came from, relative to the app folder, or null when none exists. */
  file: string | null;
  /** That file's text ("" when none). */
  source: string;
  /** Whether it exports something the runtime can serve (`module.exports = app`, `export const app`). */
  exports: boolean;
  /** The build generic detection chose (`scripts.build` and tsconfig's outDir), or null. */
  build: Description["build"];
}

/** What an adapter found. Paths are POSIX, relative to the app folder. */
export interface FrameworkDetection {
  framework: Framework;
  /** The runtime's `app`: a program with arguments (`next start`), a module (`dist/main`), or `module#export`. */
  app: string;
  /** `<package manager> run <script>` and the folder the script writes, or null (the app runs from its sources). */
  build: Description["build"];
  /** `processes.web.app_port`: the port the app listens on whatever `PORT` says (Koa's `app.listen(3000)`), or null. */
  appPort: number | null;
  /** Files the build makes; all must exist before the app can be booted (`.next/BUILD_ID`). */
  built: string[];
  /** Where the proof boots the app when not the app folder (Next.js standalone: the folder of `server.js`). */
  proofDir?: string;
  /** Why each value was chosen (printed by `create-prodserver`), by description field. */
  reasons: { framework: string; app: string; build?: string; port?: string };
  /** Advice printed after detection (Next.js: set `output: 'standalone'` for a smaller image). */
  notes: string[];
  /** Set when the app cannot be served as it is. */
  problem: Problem | null;
  /** Description fields the adapter could not settle (the CLI asks about them); default none. */
  unsure?: Array<"app" | "build">;
}

/**
 * What the image's runtime stage carries for an app (src/generate/image-layout.ts turns it into
 * COPY lines). Paths relative to the app folder.
 */
export interface ImageLayout {
  /** From the production install: `all` of it (node_modules and the manifests), or only `prodserver`
   *  (the build output bundles the app's own dependencies, as Next.js standalone and Nitro do). */
  dependencies: "all" | "prodserver";
  /** The app's files from the build context (sources, static files); false when the build output is all it runs. */
  source: boolean;
  /** Folders from the build stage: `from` → `to`; `toRoot` = relative to the workspace root instead of the app folder. */
  outputs: Array<{ from: string; to: string; toRoot?: boolean }>;
  /** One shell line run in the build stage after the build command (fixed text, no description values), or null. */
  afterBuild: string | null;
  /** One comment line for the Dockerfile's runtime stage: what it carries and why. */
  summary: string;
  /** A folder (relative to the app folder) the framework writes at run time, made and owned by the
   *  runtime user (Next.js's `.next/cache`: ISR, fetch and image caches); the rest stays read-only. */
  writable?: string;
}

/** The package.json fields the adapters read (values unchecked: a script may be anything). */
export interface PackageJson {
  scripts?: Record<string, unknown>;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
  [field: string]: unknown;
}

/** The app folder as the adapters read it. Read-only; nothing here runs the app's code. */
export interface AppFolder {
  /** Absolute path. */
  dir: string;
  /** package.json, parsed. */
  pkg: PackageJson;
  packageManager: Description["packageManager"];
  /** A file's text, or null when it cannot be read. */
  read(rel: string): string | null;
  has(rel: string): boolean;
  /** The first of `rels` that exists, or null. */
  first(rels: string[]): string | null;
  /** Whether package.json lists `name` in `dependencies` (`prod`), `devDependencies` (`dev`), or neither (null). */
  depends(name: string): "prod" | "dev" | null;
  /** The name of the first package.json script whose command matches `re` (`scripts.build` tried first), or null. */
  script(re: RegExp): string | null;
  /** The command that runs a package.json script with the app's package manager: `npm run build`. */
  run(script: string): string;
}

/** One framework's unit. */
export interface FrameworkAdapter {
  /** Names the frameworks this unit detects (express/koa/hono/fastify/node share one). */
  frameworks: readonly Framework[];
  /** The framework's own name, for messages and the README (`Next.js`). */
  title: string;
  /** The app's detection, or null when the app is not this framework's. */
  detect(app: AppFolder, generic: GenericEntry): FrameworkDetection | null;
  /** The image layout for a description of this framework. */
  image(d: Description): ImageLayout;
}
