/**
 * The builder's project-level glue: from an app folder and its description to a build context
 * (the contract's `createBuildContext(dir, description, { offline })`), image tags and the
 * runtime bundle's location. The CLI's `prodserver build` is this + buildImage + smokeTest.
 */
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Description } from "../description/index.js";
import { renderDockerfile } from "../generate/index.js";
import { createBuildContext } from "./context.js";
import { fillNpmCache, type NpmCacheResult } from "./npm-cache.js";

/**
 * Path of the runtime bundle shipped with this package: `<package>/dist/prodserver-runtime.mjs`
 * (this file compiles to `<package>/dist/src/docker/project.js`).
 */
export function defaultRuntimeBundle(): string {
  return fileURLToPath(new URL("../../prodserver-runtime.mjs", import.meta.url));
}

/** Image tags for a description: `<name>:<version>` and `<name>:latest` (one tag when version is `latest`). */
export function imageTags(d: Pick<Description, "name" | "version">): string[] {
  const version = d.version ?? "latest";
  return version === "latest" ? [`${d.name}:latest`] : [`${d.name}:${version}`, `${d.name}:latest`];
}

/** Options of {@link projectBuildContext}. */
export interface ProjectContextOptions {
  /** Offline build: fill an npm cache on the host and render the offline Dockerfile variant. */
  offline?: boolean;
  /** Runtime bundle path; default {@link defaultRuntimeBundle}. */
  runtimeBundle?: string;
  /** Root for host caches (see fillNpmCache); default `~/.cache/prodserver`. */
  cacheRoot?: string;
}

/** Result of {@link projectBuildContext}. */
export interface ProjectContext {
  context: Readable;
  /** The Dockerfile text that went into the context. */
  dockerfile: string;
  /** `rendered` (offline, or no Dockerfile in the folder) or `folder` (the app's own Dockerfile). */
  dockerfileSource: "rendered" | "folder";
  /** The npm cache used (offline only). */
  npmCache: NpmCacheResult | null;
}

/**
 * Creates the build context of an app folder. Online, the folder's `Dockerfile` (generated, maybe
 * edited by the user) is used, or rendered when absent; offline, the Dockerfile is always
 * `renderDockerfile(d, { offlineNpmCache: true })` (the offline variant is never written to disk)
 * and the npm cache is filled on the host first.
 * @throws Error from fillNpmCache (non-npm project, missing lockfile, npm failure), from
 *   renderDockerfile (invalid description, UnsafeValueError naming the field) and from
 *   createBuildContext (missing runtime bundle: run `npm run build`).
 */
export async function projectBuildContext(dir: string, d: Description, opts: ProjectContextOptions = {}): Promise<ProjectContext> {
  const runtimeBundle = opts.runtimeBundle ?? defaultRuntimeBundle();
  let npmCache: NpmCacheResult | null = null;
  let dockerfile: string;
  let dockerfileSource: ProjectContext["dockerfileSource"] = "rendered";
  if (opts.offline) {
    if ((d.packageManager ?? "npm") !== "npm") {
      throw new Error(`offline build: packageManager is ${d.packageManager}; offline builds support npm only for now`);
    }
    npmCache = await fillNpmCache(dir, { cacheRoot: opts.cacheRoot });
    dockerfile = renderDockerfile(d, { offlineNpmCache: true });
  } else if (existsSync(path.join(dir, "Dockerfile"))) {
    dockerfile = await fs.readFile(path.join(dir, "Dockerfile"), "utf8");
    dockerfileSource = "folder";
  } else {
    dockerfile = renderDockerfile(d, {});
  }
  const context = await createBuildContext(dir, { dockerfile, runtimeBundle, offlineNpmCache: npmCache?.dir });
  return { context, dockerfile, dockerfileSource, npmCache };
}
