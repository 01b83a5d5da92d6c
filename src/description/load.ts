/**
 * Find and load the project description in an app folder: `prodserver.config.mjs` (the default
 * `prodserver init` writes: plain JavaScript typed with JSDoc, so neither the app's `tsc`, whatever
 * its `rootDir`, nor `next build` ever compiles it), `prodserver.config.ts` or
 * `prodserver.config.json` (exactly one).
 *
 * A `.mjs` file without imports is loaded with node's own `import()`. A `.ts` file, or a `.mjs`
 * that imports `defineConfig` from "prodserver", is loaded with jiti, where "prodserver" resolves
 * to this package even when the app has not installed it yet.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Description } from "./types.js";
import { validateDescription } from "./validate.js";
import { packageRoot } from "../package-root.js";

/** The file names looked for; the first is what `prodserver init` writes. */
export const DESCRIPTION_FILES = ["prodserver.config.mjs", "prodserver.config.ts", "prodserver.config.json"] as const;
/** A description file name. */
export type DescriptionFile = (typeof DESCRIPTION_FILES)[number];

/** The description file in `dir`, or null when there is none. @throws DescriptionFileError when several exist. */
export function findDescriptionFile(dir: string): DescriptionFile | null {
  const found = DESCRIPTION_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (found.length > 1) throw new DescriptionFileError(dir, `several project descriptions in ${dir}: ${found.join(", ")}; keep exactly one`);
  return found[0] ?? null;
}

/** prodserver's public entry, for config files that `import { defineConfig } from "prodserver"`. */
function selfEntry(): string {
  const root = packageRoot();
  const bundled = path.join(root, "dist/pkg/index.mjs");
  return fs.existsSync(bundled) ? bundled : path.join(root, "dist/src/index.js");
}

async function importConfig(file: string): Promise<unknown> {
  const source = fs.readFileSync(file, "utf8");
  if (file.endsWith(".mjs") && !/\bfrom\s*["']prodserver["']|\bimport\(\s*["']prodserver["']/.test(source)) {
    // A query makes each load read the file again (init writes it, then generate reads it).
    const mod = await import(`${pathToFileURL(file).href}?mtime=${fs.statSync(file).mtimeMs}`);
    return mod.default;
  }
  // jiti (with babel) only for the files that need it: a chunk of its own in the published bundle.
  const { createJiti } = await import("jiti/static");
  const jiti = createJiti(file, { alias: { prodserver: selfEntry() }, moduleCache: false, fsCache: false });
  return jiti.import(file, { default: true });
}

/** The description file is missing, ambiguous (several), or cannot be loaded; `file` names it (or the folder). */
export class DescriptionFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "DescriptionFileError";
  }
}

/**
 * Load and validate the description in `dir`.
 * @returns `{ description, file }` with `file` the absolute path read.
 * @throws DescriptionFileError when none or several of {@link DESCRIPTION_FILES} exist, or the file fails to
 *   load (the message names the file and the cause); DescriptionError (field paths) when invalid.
 */
export async function loadDescription(dir: string): Promise<{ description: Description; file: string }> {
  const name = findDescriptionFile(dir);
  if (!name) {
    throw new DescriptionFileError(dir, `no project description in ${dir}: expected one of ${DESCRIPTION_FILES.join(", ")} (run \`prodserver init\`)`);
  }
  const file = path.join(dir, name);
  let raw: unknown;
  try {
    raw = file.endsWith(".json") ? JSON.parse(fs.readFileSync(file, "utf8")) : await importConfig(file);
  } catch (e) {
    throw new DescriptionFileError(file, `cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return { description: validateDescription(raw, file), file };
}
