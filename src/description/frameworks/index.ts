/**
 * The framework adapters, asked in order; the first that recognises the app wins. The specific
 * ones come first (Fastify CLI before Fastify, NestJS before Express, which it uses); the
 * Express/Koa/Hono/Fastify/node:http unit is last and takes every other app.
 */
import type { Description } from "../types.js";
import { appFilesLayout } from "./folder.js";
import { astro } from "./astro.js";
import { fastifyCli } from "./fastify-cli.js";
import { nestjs } from "./nestjs.js";
import { nextjs } from "./nextjs.js";
import { nuxt } from "./nuxt.js";
import { reactRouter } from "./react-router.js";
import { serverEntry } from "./server-entry.js";
import { sveltekit } from "./sveltekit.js";
import type { AppFolder, Framework, FrameworkAdapter, FrameworkDetection, GenericEntry, ImageLayout } from "./types.js";

export { FRAMEWORKS, type Framework, type FrameworkAdapter, type FrameworkDetection, type GenericEntry, type ImageLayout, type Problem, type AppFolder } from "./types.js";
export { appFolder } from "./folder.js";

/** Every adapter, in the order detection asks them. */
export const ADAPTERS: readonly FrameworkAdapter[] = [fastifyCli, nestjs, nextjs, nuxt, sveltekit, astro, reactRouter, serverEntry];

/** The framework of the app in `app` (the last adapter always answers). */
export function detectFramework(app: AppFolder, generic: GenericEntry): FrameworkDetection {
  for (const a of ADAPTERS) {
    const found = a.detect(app, generic);
    if (found) return found;
  }
  throw new Error("unreachable: the server-entry adapter takes every app");
}

/** The adapter of `framework`. @throws Error for a name no adapter has (the schema prevents it). */
export function adapterOf(framework: Framework): FrameworkAdapter {
  const a = ADAPTERS.find((x) => x.frameworks.includes(framework));
  if (!a) throw new Error(`no adapter for framework ${JSON.stringify(framework)}`);
  return a;
}

/** What the image's runtime stage carries for `d`: its framework's layout, or (no framework) the app's files, production dependencies and build output. */
export function imageLayout(d: Description): ImageLayout {
  return d.framework ? adapterOf(d.framework).image(d) : appFilesLayout(d, "The app's files");
}
