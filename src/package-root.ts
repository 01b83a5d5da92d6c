/**
 * Where prodserver's own files are (templates, the runtime bundle, package.json), found from the
 * running module: the compiled tree (`dist/src/...`) and the published bundle (`dist/pkg/...`)
 * sit at different depths, so the package root is looked up, not computed from a fixed `../..`.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let root: string | null = null;

/**
 * The folder holding prodserver's package.json (`"name": "prodserver"`): the repository root in
 * a checkout, `node_modules/prodserver` when installed.
 * @throws Error when no such package.json is above this module (a broken install).
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file) && JSON.parse(fs.readFileSync(file, "utf8")).name === "prodserver") return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`prodserver's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** prodserver's version, from its package.json (e.g. `0.1.0`). */
export function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version as string;
}
