/**
 * Render a description as the text of `prodserver.config.ts` / `.mjs` / `.json`. Deterministic:
 * fixed key order, no timestamps, so `prodserver init` run twice writes the same bytes.
 */
import { validateDescription } from "./validate.js";

/**
 * Output formats: `mjs` (the default: plain JavaScript typed with a JSDoc `@type`, no import, so the
 * app's own type-check and bundler never see it), `ts` (typed with `defineConfig`), `json` (with `$schema`).
 */
export type DescriptionFormat = "ts" | "mjs" | "json";

const ORDER = ["name", "version", "node", "packageManager", "workspace", "app", "build", "port", "processes", "health", "deploy"];

/** Sort keys: top level in {@link ORDER}, `web` first among processes, others alphabetically. */
function ordered(v: unknown, top = false): unknown {
  if (Array.isArray(v)) return v.map((x) => ordered(x));
  if (!v || typeof v !== "object") return v;
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  keys.sort((a, b) => {
    if (top) return ORDER.indexOf(a) - ORDER.indexOf(b);
    if (a === "web" || b === "web") return a === "web" ? -1 : 1;
    return 0;
  });
  return Object.fromEntries(keys.map((k) => [k, ordered((v as Record<string, unknown>)[k])]));
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** A JS object literal: identifier keys unquoted, strings JSON-quoted, two-space indent, trailing commas. */
function literal(v: unknown, indent: string): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  const inner = indent + "  ";
  if (Array.isArray(v)) return v.length ? `[${v.map((x) => literal(x, inner)).join(", ")}]` : "[]";
  const entries = Object.entries(v);
  if (!entries.length) return "{}";
  const flat = entries.every(([, x]) => x === null || typeof x !== "object");
  const parts = entries.map(([k, x]) => `${IDENT.test(k) ? k : JSON.stringify(k)}: ${literal(x, inner)}`);
  const one = `{ ${parts.join(", ")} }`;
  if (flat && one.length + indent.length < 100) return one;
  return `{\n${parts.map((p) => `${inner}${p},`).join("\n")}\n${indent}}`;
}

/**
 * The config file text for `description` (validated first, defaults applied and written out).
 * @param format `mjs` (default) → `/** @type {import("prodserver").DescriptionInput} *\/ export default {...};`,
 *   `ts` → `import { defineConfig } from "prodserver"; export default defineConfig({...});`
 * @throws DescriptionError when `description` is invalid (field paths named).
 */
export function renderDescriptionFile(description: unknown, format: DescriptionFormat = "mjs"): string {
  const d = validateDescription(description);
  const v = ordered(d, true) as Record<string, unknown>;
  if (format === "json") {
    return JSON.stringify({ $schema: "./node_modules/prodserver/templates/prodserver.schema.json", ...v }, null, 2) + "\n";
  }
  const about = "// The project description: prodserver generates the Dockerfile, nginx and systemd files from it.\n";
  if (format === "mjs") {
    return `// @ts-check\n${about}/** @type {import("prodserver").DescriptionInput} */\nexport default ${literal(v, "")};\n`;
  }
  return `import { defineConfig } from "prodserver";\n\n${about}export default defineConfig(${literal(v, "")});\n`;
}
