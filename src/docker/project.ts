/**
 * The builder's project-level glue: from an app folder and its description to a build context
 * (the contract's `createBuildContext(dir, description, { offline })`) and image tags. The CLI's
 * `prodserver build` is this + buildImage + smokeTest.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import type { Description } from "../description/index.js";
import { projectRoot, renderDockerfile } from "../generate/index.js";
import { buildImage, type BuildImageOptions, type BuildResult } from "./build.js";
import { createBuildContext } from "./context.js";
import { fillOfflineCache, type OfflineCache } from "./offline.js";

/** Image tags for a description: `<name>:<version>` and `<name>:latest` (one tag when version is `latest`). */
export function imageTags(d: Pick<Description, "name" | "version">): string[] {
  const version = d.version ?? "latest";
  return version === "latest" ? [`${d.name}:latest`] : [`${d.name}:${version}`, `${d.name}:latest`];
}

/** Options of {@link projectBuildContext}. */
export interface ProjectContextOptions {
  /** Offline build: fill the package caches on the host, ship them, set the Dockerfile's offline build ARGs. */
  offline?: boolean;
  /** Root for host caches (see fillOfflineCache); default `~/.cache/prodserver`. */
  cacheRoot?: string;
  /** The description file's name, for the header of a Dockerfile rendered because the folder has none. */
  descriptionFile?: string;
}

/** Result of {@link projectBuildContext}. */
export interface ProjectContext {
  context: Readable;
  /** The context root on the host: the app folder, or the workspace root. */
  root: string;
  /** The Dockerfile's path in the context (`Dockerfile`, `apps/web/Dockerfile`): the API's `dockerfile`. */
  dockerfilePath: string;
  /** `folder` (the app's own Dockerfile, hand edits included) or `rendered` (the folder has none). */
  dockerfileSource: "folder" | "rendered";
  /** Build ARGs to pass (the offline switch; empty online). */
  buildArgs: Record<string, string>;
  /** The offline caches used (offline only). */
  offline: OfflineCache | null;
}

/**
 * Creates the build context of an app folder. The Dockerfile built is the one in the app folder
 * (generated, maybe edited by the user), or rendered from `d` when the folder has none; offline
 * builds build the same file, with the package caches in the context and build ARGs that point
 * the install at them.
 * @throws Error from fillOfflineCache (missing lockfile, download failure), from renderDockerfile
 *   (invalid description, UnsafeValueError naming the field) and from createBuildContext.
 */
export async function projectBuildContext(dir: string, d: Description, opts: ProjectContextOptions = {}): Promise<ProjectContext> {
  const root = projectRoot(dir, d);
  const dockerfilePath = d.workspace ? `${d.workspace.path}/Dockerfile` : "Dockerfile";
  const own = existsSync(path.join(root, dockerfilePath));
  const offline = opts.offline ? await fillOfflineCache(root, d, { cacheRoot: opts.cacheRoot }) : null;
  const context = await createBuildContext(root, {
    dockerfilePath,
    dockerfile: own ? undefined : renderDockerfile(d, { descriptionFile: opts.descriptionFile }),
    offlineDir: offline?.dir,
  });
  return { context, root, dockerfilePath, dockerfileSource: own ? "folder" : "rendered", buildArgs: offline?.buildArgs ?? {}, offline };
}

/**
 * {@link projectBuildContext} + `buildImage`: builds the app's image as `prodserver build` does
 * (its Dockerfile, the offline build ARGs when `offline`), tagged `opts.tags`.
 * @returns the build result and the context it was built from.
 * @throws what projectBuildContext and buildImage throw (BuildError for a failed step).
 */
export async function buildProject(
  docker: Dockerode,
  dir: string,
  d: Description,
  opts: ProjectContextOptions & Omit<BuildImageOptions, "dockerfile" | "buildArgs">,
): Promise<BuildResult & { project: Omit<ProjectContext, "context"> }> {
  const { context, ...project } = await projectBuildContext(dir, d, opts);
  const result = await buildImage(docker, context, { ...opts, dockerfile: project.dockerfilePath, buildArgs: project.buildArgs });
  return { ...result, project };
}
