/**
 * Reading an app folder for the framework adapters: package.json, config files as text, and
 * tsconfig.json with its `extends` chain. Read-only: config files (`next.config.ts`,
 * `astro.config.mjs`) are read as text, never run; a value they compute is not seen, and the
 * adapters say so where it matters.
 */
import fs from "node:fs";
import path from "node:path";
import type { Description } from "../types.js";
import type { AppFolder, ImageLayout, PackageJson, Problem } from "./types.js";

/** The {@link AppFolder} for `dir` and its parsed package.json. */
export function appFolder(dir: string, pkg: PackageJson, packageManager: Description["packageManager"]): AppFolder {
  const read = (rel: string): string | null => {
    try {
      return fs.readFileSync(path.join(dir, rel), "utf8");
    } catch {
      return null;
    }
  };
  const has = (rel: string) => fs.existsSync(path.join(dir, rel));
  const scripts: Record<string, string> = Object.fromEntries(Object.entries(pkg.scripts ?? {}).filter(([, v]) => typeof v === "string")) as Record<string, string>;
  return {
    dir,
    pkg,
    packageManager,
    read,
    has,
    first: (rels) => rels.find(has) ?? null,
    depends: (name) => (typeof pkg.dependencies?.[name] === "string" ? "prod" : typeof pkg.devDependencies?.[name] === "string" ? "dev" : null),
    script: (re) => ["build", ...Object.keys(scripts)].find((k) => typeof scripts[k] === "string" && re.test(scripts[k])) ?? null,
    run: (script) => `${packageManager} run ${script}`,
  };
}

/** The config file among `<base>.{js,mjs,cjs,ts,mts,cts}` that exists, with its text, or null. */
export function configFile(app: AppFolder, base: string): { file: string; text: string } | null {
  const file = app.first(["js", "mjs", "cjs", "ts", "mts", "cts"].map((e) => `${base}.${e}`));
  return file ? { file, text: app.read(file) ?? "" } : null;
}

/** A config file's name (`fallback` when there is none: what messages name) and its text without comments ("" when none). */
export function configText(app: AppFolder, base: string, fallback: string): { name: string; text: string; found: boolean } {
  const c = configFile(app, base);
  return { name: c?.file ?? fallback, text: c ? stripComments(c.text) : "", found: c !== null };
}

/** Remove `//` and `/* *\/` comments (outside strings) so a commented-out option is not read. */
export function stripComments(text: string): string {
  return text.replace(/("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_m, s: string | undefined) => s ?? "");
}

/** The string literal a config file gives `key` (`distDir: ".build"`, `out: 'dist'`), or null. */
export function stringOption(text: string, key: string): string | null {
  const m = new RegExp(`\\b${key}\\s*:\\s*(["'\`])([^"'\`\\n]+)\\1`).exec(stripComments(text));
  return m ? m[2] : null;
}

/** A relative path as POSIX without `./` and trailing `/` (`./build/` → `build`); null when not a string. */
export function cleanPath(p: unknown): string | null {
  if (typeof p !== "string" || !p) return null;
  const n = path.posix.normalize(p.replace(/\\/g, "/")).replace(/^\.\//, "").replace(/\/$/, "");
  return n === "" ? "." : n;
}

/** Parse JSON with comments and trailing commas (tsconfig.json is JSONC). Null when unparsable. */
// biome-ignore lint/suspicious/noExplicitAny: tsconfig/nest-cli JSON, each field checked where it is read
export function parseJsonc(text: string): any {
  const noComments = text.replace(/("(?:\\.|[^"\\])*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_m, s: string | undefined) => s ?? "");
  try {
    return JSON.parse(noComments.replace(/,(\s*[}\]])/g, "$1"));
  } catch {
    return null;
  }
}

/**
 * The `compilerOptions.outDir` and `rootDir` a tsconfig file ends up with, following relative
 * `extends` (as tsc: each path relative to the file that sets it), as paths relative to the app
 * folder; null for an option no file in the chain sets. Package `extends` (`@tsconfig/node20`)
 * are not followed (they set neither option in practice).
 */
export function tsconfigDirs(app: AppFolder, file: string): { outDir: string | null; rootDir: string | null; found: boolean } {
  const out: { outDir: string | null; rootDir: string | null; found: boolean } = { outDir: null, rootDir: null, found: false };
  const seen = new Set<string>();
  let current: string | null = file;
  while (current && !seen.has(current)) {
    seen.add(current);
    const json = parseJsonc(app.read(current) ?? "null");
    if (!json) break;
    out.found = true;
    const base = path.posix.dirname(current);
    for (const key of ["outDir", "rootDir"] as const) {
      const v = json.compilerOptions?.[key];
      if (out[key] === null && typeof v === "string") out[key] = cleanPath(path.posix.join(base, v.replace(/\\/g, "/")));
    }
    const ext = typeof json.extends === "string" && json.extends.startsWith(".") ? json.extends : null;
    current = ext ? path.posix.normalize(path.posix.join(base, ext.endsWith(".json") ? ext : `${ext}.json`)) : null;
  }
  return out;
}

/** Why `build` is what it is: `scripts.build "next build" → .next/`. */
export function buildReason(app: AppFolder, script: string, output: string): string {
  return `scripts.${script} ${JSON.stringify(app.pkg.scripts?.[script])} → ${output}/`;
}

/** The first script among `names` whose command is `<bin> ...` (ignoring `cross-env X=1`, `NODE_ENV=production`), as its argv text after env assignments. */
export function scriptCommand(app: AppFolder, names: string[], bin: RegExp): string | null {
  for (const name of names) {
    const s = app.pkg.scripts?.[name];
    if (typeof s !== "string") continue;
    const cmd = s.trim().replace(/^(?:cross-env\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*/, "");
    if (bin.test(cmd) && !/[;&|<>`$()]/.test(cmd)) return cmd;
  }
  return null;
}

/** The port in a regexp match's first group, or null when there is none or it is out of range. */
function portOf(m: RegExpExecArray | null): number | null {
  const n = m ? Number(m[1]) : NaN;
  return n >= 1 && n <= 65535 ? n : null;
}

/** The `-p N` / `--port N` / `--port=N` of a command line, or null. */
export function portFlag(command: string): number | null {
  return portOf(/(?:^|\s)(?:-p|--port)(?:\s+|=)(\d{2,5})(?:\s|$)/.exec(command));
}

/** The usual layout of a built app that runs with its production dependencies: package.json and
 *  node_modules from the install, the build output, no sources. */
export function builtWithDependencies(output: string, framework: string): ImageLayout {
  return {
    dependencies: "all",
    source: false,
    outputs: [{ from: output, to: output }],
    afterBuild: null,
    summary: `${framework}: the production dependencies (package.json, node_modules) and the build output; no sources.`,
  };
}

/** The port a source/script text listens on: `listen(3000`, `PORT || 3000`, `PORT ?? 3000`, `PORT=3000`, `port: 3000`. */
export function detectPort(text: string): number | null {
  return portOf(/PORT\s*(?:\|\||\?\?)\s*["']?(\d{2,5})/.exec(text) ?? /\blisten\(\s*(\d{2,5})\b/.exec(text) ?? /\bPORT=(\d{2,5})\b/.exec(text) ?? /\bport\s*:\s*(\d{2,5})\b/.exec(text));
}

/** The layout of an app that runs from its own files: its files, its production dependencies and
 *  its build output (if any). `what` opens the Dockerfile's comment (`Fastify CLI: the app's files`). */
export function appFilesLayout(d: Description, what: string): ImageLayout {
  return {
    dependencies: "all",
    source: true,
    outputs: d.build ? [{ from: d.build.output, to: d.build.output }] : [],
    afterBuild: null,
    summary: d.build ? `${what}, its production dependencies and the build output.` : `${what} and its production dependencies.`,
  };
}

/**
 * The problem of a package the image runs being a devDependency (the image installs production
 * dependencies only), or null when it is in `dependencies`.
 */
export function needsProduction(app: AppFolder, name: string, why: string): Problem | null {
  if (app.depends(name) !== "dev") return null;
  const add = app.packageManager === "npm" ? "npm install --save-prod" : app.packageManager === "pnpm" ? "pnpm add --save-prod" : "yarn add";
  return {
    file: "package.json",
    found: `${name} is a devDependency, but ${why} and the image installs production dependencies only`,
    change: `move ${name} to "dependencies": \`${add} ${name}\``,
  };
}
