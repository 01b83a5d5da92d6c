/**
 * The runtime's version: package.json's `version`, read once. The bundle (bundle.mjs) inlines it
 * at build time through esbuild's `define` (`PRODSERVER_VERSION`); the tsc build
 * (dist/runtime/version.js) reads ../../package.json.
 */
import nodeModule from "node:module";

declare const PRODSERVER_VERSION: string | undefined;

function read(): string {
  if (typeof PRODSERVER_VERSION === "string") return PRODSERVER_VERSION;
  try {
    return (nodeModule.createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** package.json's `version`, e.g. `0.1.0`. */
export const VERSION = read();
