/**
 * Find and load the project description in an app folder: `prodserver.config.ts`, `.mjs` or
 * `.json` (exactly one). TypeScript and ESM files are loaded with jiti; `import { defineConfig }
 * from "prodserver"` inside them resolves to this package even when it is not installed there.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createJiti } from "jiti";
import type { Description } from "./types.js";
import { validateDescription } from "./validate.js";

/** The file names looked for, in this order. */
export const DESCRIPTION_FILES = ["prodserver.config.ts", "prodserver.config.mjs", "prodserver.config.json"] as const;

/** This package's entry (dist/src/index.js), aliased as `prodserver` for config files. */
const SELF = fileURLToPath(new URL("../index.js", import.meta.url));

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
  const found = DESCRIPTION_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (found.length === 0) {
    throw new DescriptionFileError(dir, `no project description in ${dir}: expected one of ${DESCRIPTION_FILES.join(", ")} (run \`prodserver init\`)`);
  }
  if (found.length > 1) {
    throw new DescriptionFileError(dir, `several project descriptions in ${dir}: ${found.join(", ")}; keep exactly one`);
  }
  const file = path.join(dir, found[0]);
  let raw: unknown;
  try {
    if (file.endsWith(".json")) {
      raw = JSON.parse(fs.readFileSync(file, "utf8"));
    } else {
      const jiti = createJiti(import.meta.url, { alias: { prodserver: SELF }, moduleCache: false, fsCache: false });
      raw = await jiti.import(file, { default: true });
    }
  } catch (e) {
    throw new DescriptionFileError(file, `cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return { description: validateDescription(raw, file), file };
}
