/**
 * The Dockerfile's runtime stage for a description: the COPY lines that carry what the app's
 * framework runs in production and nothing more where the framework allows it (Next.js
 * standalone: `.next/standalone`, `.next/static`, `public/` and prodserver's runtime bundle; Nuxt:
 * `.output` and the runtime bundle; NestJS, SvelteKit, Astro, React Router: the build output and the production
 * dependencies, no sources). The layouts come from the framework adapters
 * (src/description/frameworks/); this module turns one into absolute paths in the image.
 */
import path from "node:path";
import type { Description } from "../description/types.js";
import { imageLayout } from "../description/frameworks/index.js";
import type { PackageManagerFacts } from "./package-manager.js";

/** One `COPY --from=<stage> <from> <to>` of the runtime stage; `field` names the description field the paths come from. */
export interface ImageCopy {
  stage: "deps" | "source" | "build";
  /** Absolute path in that stage. */
  from: string;
  /** Path in the runtime stage relative to its WORKDIR /app (`./`, `./dist`); a folder's contents go into it. */
  to: string;
  field: string;
}

/** The runtime stage of one description. */
export interface ImageDerived {
  /** Whether the Dockerfile has a deps stage (the production install): not when the build output
   *  carries the app's dependencies, and prodserver is taken from the build stage's install. */
  deps: boolean;
  copies: ImageCopy[];
  /** One shell line for the build stage after the build command, or "" (paths in it are validated description values). */
  afterBuild: string;
  /** The comment line above the runtime stage's COPY lines. */
  summary: string;
  /** The folder the runtime user must own (relative to /app, `apps/web/.next/cache`), or "". */
  writable: string;
}

/**
 * The runtime stage's copies for `d`, with `pm` the description's package-manager facts (where the
 * app and prodserver are in the image). Pure.
 */
export function imageCopies(d: Description, pm: PackageManagerFacts): ImageDerived {
  const layout = imageLayout(d);
  const copies: ImageCopy[] = [];
  const rel = (abs: string) => `./${path.posix.relative(pm.rootInImage, abs)}`;
  // Only the runtime bundle (one file, no dependencies) from the build stage's install: there
  // must be a build stage. The rest of the prodserver package (the CLI, templates) serves nothing.
  const deps = layout.dependencies === "all" || d.build === null;
  if (deps) copies.push({ stage: "deps", from: pm.rootInImage, to: "./", field: "(runtime)" });
  else copies.push({ stage: "build", from: pm.runtimeInImage, to: rel(pm.runtimeInImage), field: "(runtime)" });
  if (layout.source) copies.push({ stage: "source", from: pm.rootInImage, to: "./", field: "(runtime)" });
  for (const o of layout.outputs) {
    const to = path.posix.join(o.toRoot ? pm.rootInImage : pm.appInImage, o.to);
    copies.push({ stage: "build", from: path.posix.join(pm.appInImage, o.from), to: rel(to), field: "build.output" });
  }
  const writable = layout.writable ? path.posix.relative(pm.rootInImage, path.posix.join(pm.appInImage, layout.writable)) : "";
  return { deps, copies, afterBuild: layout.afterBuild ?? "", summary: layout.summary, writable };
}
