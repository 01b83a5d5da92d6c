/**
 * Detect a project description from an app folder: package.json, lockfiles, tsconfig.json and
 * the app's source text. Read-only; never runs the project's code or any package manager.
 * Sources for the rules: fly-apps/dockerfile-node `gdf.js` (lockfile → package manager, see
 * ./workspace.ts), Railpack/nixpacks (engines.node, start script → main → index.js); the Node
 * line is the newest LTS engines.node allows (./node-versions.ts).
 */
import fs from "node:fs";
import path from "node:path";
import type { Description } from "./types.js";
import { validateDescription } from "./validate.js";
import { endOfLifeWarning, newestLtsMajor } from "./node-versions.js";
import { detectPackageManager } from "./workspace.js";
import { appFolder, detectFramework, type FrameworkDetection } from "./frameworks/index.js";
import { detectPort, parseJsonc } from "./frameworks/folder.js";

export { detectPort, parseJsonc };

/** What detection found. `uncertain` lists the fields the CLI should ask about; `reasons` says why per field;
 *  `warnings` are printed whatever the answers (an end-of-life Node line); `framework` is the
 *  framework adapter's finding (./frameworks/), with its build outputs, advice and any problem. */
export interface Detection {
  description: Description;
  uncertain: string[];
  reasons: Record<string, string>;
  warnings: string[];
  framework: FrameworkDetection;
}

/**
 * The format `prodserver init` writes the description in: `mjs` (plain JavaScript, typed with a
 * JSDoc `@type`) unless the app's tsconfig.json would compile a root-level `.mjs` file — `allowJs`
 * (or `checkJs`) with neither `include` nor `files`, where TypeScript's default include takes
 * every JavaScript file and a `rootDir` elsewhere fails with TS6059 — then `json`, which no
 * compiler or bundler reads.
 */
export function descriptionFormat(dir: string): { format: "mjs" | "json"; reason: string } {
  const tsconfig = parseJsonc(read(path.join(dir, "tsconfig.json")) ?? "null");
  const co = tsconfig?.compilerOptions ?? {};
  if ((co.allowJs === true || co.checkJs === true) && tsconfig.include === undefined && tsconfig.files === undefined) {
    return { format: "json", reason: "tsconfig.json compiles every JavaScript file (allowJs, no include)" };
  }
  return { format: "mjs", reason: "plain JavaScript, typed with JSDoc" };
}

/**
 * The Node major for the image: the newest LTS line `engines` allows (on `today`); when it allows
 * none, the lowest major >= 20 it allows (the runtime needs 20.19+); without engines the newest LTS.
 * `sure` is false when the range was unusable and a default was taken.
 */
export function chooseNode(engines: unknown, today: Date = new Date()): { node: string; reason: string; sure: boolean } {
  const lts = newestLtsMajor(() => true, today) ?? 24;
  if (typeof engines !== "string") return { node: String(lts), reason: `no engines.node; the newest LTS, Node ${lts}`, sure: true };
  const allows = (m: number) => lowestNodeMajor(engines, m, m) === m;
  const newest = newestLtsMajor(allows, today);
  if (newest !== null) return { node: String(newest), reason: `engines.node ${JSON.stringify(engines)}: the newest LTS it allows`, sure: true };
  const lowest = lowestNodeMajor(engines, 20);
  if (lowest !== null) return { node: String(lowest), reason: `engines.node ${JSON.stringify(engines)} allows no supported LTS line; the lowest major it allows`, sure: true };
  return {
    node: String(lts),
    reason: `engines.node ${JSON.stringify(engines)} allows no Node >= 20 (the runtime needs 20.19+); used the newest LTS, Node ${lts}`,
    sure: false,
  };
}

const read = (p: string): string | null => {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return null;
  }
};

/** Sanitise a package name to `[a-z0-9][a-z0-9._-]{0,62}`: scope dropped, lower case, others → `-`. */
export function sanitizeName(raw: string): string {
  const n = raw
    .replace(/^@[^/]+\//, "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63)
    .replace(/[._-]+$/, "");
  return n || "app";
}

/**
 * The lowest Node major >= `floor` satisfying a semver range (`>=20`, `^22.1`, `20.x || 22`,
 * `~18.2`, `>18`), or null when the range is unparsable or allows none. Majors only, as
 * Railpack/nixpacks do; the base image tag is `node:<major>-bookworm-slim`.
 */
export function lowestNodeMajor(range: string, floor = 0, ceiling = 40): number | null {
  const sets = range.split("||").map((s) => s.trim());
  let best: number | null = null;
  for (const set of sets) {
    const tokens = set
      .replace(/\s+-\s+/g, " - ")
      .split(/\s+/)
      .filter(Boolean);
    let lo = 0;
    let hi = Infinity; // exclusive upper major bound
    let ok = true;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t === "-") continue;
      if (tokens[i + 1] === "-" && tokens[i + 2]) {
        lo = Math.max(lo, major(t) ?? NaN);
        const m2 = major(tokens[i + 2]);
        hi = Math.min(hi, (m2 ?? NaN) + 1);
        i += 2;
        continue;
      }
      const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?/.exec(t);
      if (!m) {
        if (t === "*" || t === "x") continue;
        ok = false;
        break;
      }
      const [, op = "", maj, min, pat] = m;
      if (/[xX*]/.test(maj)) continue;
      const M = Number(maj);
      const partial = min === undefined || /[xX*]/.test(min);
      if (op === ">=") lo = Math.max(lo, M);
      else if (op === ">") lo = Math.max(lo, partial ? M + 1 : M);
      else if (op === "<") hi = Math.min(hi, min === undefined || (Number(min) === 0 && (pat === undefined || Number(pat) === 0)) ? M : M + 1);
      else if (op === "<=") hi = Math.min(hi, M + 1);
      else {
        lo = Math.max(lo, M);
        hi = Math.min(hi, M + 1);
      }
    }
    if (!ok || Number.isNaN(lo) || Number.isNaN(hi)) continue;
    const cand = Math.max(lo, floor);
    if (cand < hi && cand <= ceiling && (best === null || cand < best)) best = cand;
  }
  return best;
}
const major = (v: string) => (/^v?(\d+)/.exec(v) ? Number(/^v?(\d+)/.exec(v)![1]) : null);

/** What a source file exports, as the runtime's APP suffix: `#app`, `#createApp()`, `""` (default), or null. */
export function detectExport(source: string): string | null {
  const named = /export\s+(?:const|let|var)\s+(app|server|handler)\b|export\s*\{[^}]*\b(app|server|handler)\b[^}]*\}|(?:module\.)?exports\.(app|server|handler)\s*=/.exec(source);
  if (named) return `#${named[1] ?? named[2] ?? named[3]}`;
  const factory = /export\s+(?:async\s+)?function\s+(create\w*|build\w*|make\w*)\s*\(|export\s+const\s+(create\w*|build\w*|make\w*)\s*=/.exec(source);
  if (factory) return `#${factory[1] ?? factory[2]}()`;
  if (/export\s+default\b|module\.exports\s*=/.test(source)) return "";
  return null;
}

const SOURCE_EXT = /\.(ts|mts|cts|tsx)$/;
const COMMON = ["src/app", "src/server", "src/index", "src/main", "app", "server", "index", "main"].flatMap((b) => [".ts", ".mts", ".js", ".mjs", ".cjs"].map((e) => b + e));

/**
 * Detect the description of the app in `dir`.
 * @param today the date the Node release schedule is read at (./node-versions.ts `chooseNode`:
 *   the newest LTS line `engines.node` allows; tests pin it)
 * @returns a valid Description plus `uncertain` fields (what the CLI should ask) and `reasons`.
 * @throws Error when `dir` has no readable package.json (the message names the path), or when the
 *   app is a package of a workspace and has no `name`.
 */
export async function detectProject(dir: string, today: Date = new Date()): Promise<Detection> {
  const pkgPath = path.join(dir, "package.json");
  const pkgText = read(pkgPath);
  if (pkgText === null) throw new Error(`no package.json in ${dir}`);
  // biome-ignore lint/suspicious/noExplicitAny: the app's package.json, each field checked where it is read
  let pkg: any;
  try {
    pkg = JSON.parse(pkgText);
  } catch (e) {
    throw new Error(`${pkgPath}: invalid JSON (${(e as Error).message})`);
  }
  const uncertain = new Set<string>();
  const reasons: Record<string, string> = {};
  const has = (f: string) => fs.existsSync(path.join(dir, f));

  // name, version
  let name: string;
  if (typeof pkg.name === "string" && pkg.name) {
    name = sanitizeName(pkg.name);
    reasons.name = `package.json name ${JSON.stringify(pkg.name)}`;
  } else {
    name = sanitizeName(path.basename(path.resolve(dir)));
    uncertain.add("name");
    reasons.name = "package.json has no name; used the folder name";
  }
  const version = typeof pkg.version === "string" ? pkg.version.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "") || "latest" : "latest";

  // package manager and workspace
  const pmInfo = detectPackageManager(dir);
  const packageManager = pmInfo.packageManager;
  reasons.packageManager = pmInfo.reason;
  if (pmInfo.uncertain) uncertain.add("packageManager");
  const workspace = pmInfo.workspace ? { path: pmInfo.workspace.path, package: pmInfo.workspace.package } : null;
  if (workspace) reasons.workspace = `${workspace.path} is a package of the workspace at ${pmInfo.workspace!.root}`;

  // node: the newest LTS line engines.node allows (Railpack and fly pick from engines too)
  const warnings: string[] = [];
  const { node, reason: nodeReason, sure } = chooseNode(pkg.engines?.node, today);
  reasons.node = nodeReason;
  if (!sure) uncertain.add("node");
  const eol = endOfLifeWarning(Number(node), today);
  if (eol) warnings.push(eol);

  // build
  const tsconfig = parseJsonc(read(path.join(dir, "tsconfig.json")) ?? "null");
  const co = tsconfig?.compilerOptions ?? {};
  const clean = (p: unknown) => (typeof p === "string" ? path.posix.normalize(p.replace(/\\/g, "/")).replace(/^\.\//, "").replace(/\/$/, "") : null);
  const outDir = clean(co.outDir);
  let build: Description["build"] = null;
  if (pkg.scripts && typeof pkg.scripts.build === "string") {
    build = { command: `${packageManager} run build`, output: outDir && outDir !== "." ? outDir : "dist" };
    reasons.build = `scripts.build ${JSON.stringify(pkg.scripts.build)}; output ${outDir ? "tsconfig outDir" : "dist (default)"}`;
  } else if (tsconfig) {
    uncertain.add("build");
    reasons.build = "tsconfig.json but no build script";
  }

  // app: candidates in order main, start script, common files
  const start: string = typeof pkg.scripts?.start === "string" ? pkg.scripts.start : "";
  const startFile = /\bnode\s+(?:--?[\w-]+(?:=\S+)?\s+)*([^\s;&|]+\.[cm]?[jt]s)\b/.exec(start)?.[1];
  const cands = [typeof pkg.main === "string" ? pkg.main : null, startFile ?? null, ...COMMON].filter((c): c is string => !!c).map((c) => clean(c)!);
  const rootDir = clean(co.rootDir);
  const toOutput = (src: string): string => {
    if (!SOURCE_EXT.test(src)) return src;
    if (!build) {
      // TypeScript sources without a build script: guess tsc's output and ask.
      uncertain.add("build");
      uncertain.add("app");
      reasons.build = `${src} is TypeScript but package.json has no build script`;
    }
    const output = build?.output ?? (outDir && outDir !== "." ? outDir : "dist");
    let rel = src;
    if (rootDir && rootDir !== "." && src.startsWith(rootDir + "/")) rel = src.slice(rootDir.length + 1);
    else if (!rootDir && src.startsWith("src/")) rel = src.slice(4);
    return `${output}/${rel}`
      .replace(/\.mts$/, ".mjs")
      .replace(/\.cts$/, ".cjs")
      .replace(/\.tsx?$/, ".js");
  };
  const fromOutput = (p: string): string[] => {
    if (!build || !p.startsWith(build.output + "/")) return [];
    const rel = p.slice(build.output.length + 1).replace(/\.[cm]?js$/, "");
    const root = rootDir && rootDir !== "." ? rootDir : "src";
    return [".ts", ".mts", ".tsx"].map((e) => `${root}/${rel}${e}`);
  };
  let app: string | null = null;
  let appSource = "";
  let appFile: string | null = null;
  for (const c of cands) {
    const files = has(c) ? [c] : fromOutput(c).filter(has);
    for (const f of files) {
      const text = read(path.join(dir, f)) ?? "";
      const exp = detectExport(text);
      if (exp === null) continue;
      app = toOutput(f) + exp;
      appSource = text;
      appFile = f;
      reasons.app = `${f} exports ${exp || "default"}`;
      break;
    }
    if (app) break;
  }
  const exported = app !== null;
  if (!app) {
    // The first candidate that exists, as a source file when only its build output is named.
    const first = cands.flatMap((c) => (has(c) ? [c] : fromOutput(c).filter(has)))[0];
    app = first ? toOutput(first) : "index.js";
    appFile = first ?? null;
    appSource = first ? (read(path.join(dir, first)) ?? "") : "";
    uncertain.add("app");
    reasons.app = first ? `${first} exports no app (the runtime needs an export)` : "no entry file found";
  }

  // port
  const startSrc = startFile ? [clean(startFile)!, ...fromOutput(clean(startFile)!)].find(has) : undefined;
  const startText = startSrc ? (read(path.join(dir, startSrc)) ?? "") : "";
  // Where a port may be written, most specific first: the app, the start file, the start script,
  // the other scripts, then env files (read for PORT= only; never shipped anywhere).
  const scripts =
    pkg.scripts && typeof pkg.scripts === "object"
      ? Object.values(pkg.scripts)
          .filter((v) => typeof v === "string")
          .join("\n")
      : "";
  const envText = [".env.example", ".env.sample", ".env"].map((f) => (/^PORT=\d+/m.exec(read(path.join(dir, f)) ?? "") ?? [""])[0]).join("\n");
  const sources: Array<[string, string]> = [
    ["the app source", appSource],
    [startSrc ?? "the start file", startText],
    ["scripts.start", start],
    ["package.json scripts", scripts],
    ["an env file", envText],
  ];
  let port: number | null = null;
  for (const [where, text] of sources) {
    port = detectPort(text);
    if (port) {
      reasons.port = `found in ${where}`;
      break;
    }
  }
  if (!port) {
    reasons.port = "not found; 3000 assumed";
    uncertain.add("port");
  }

  // The framework's adapter refines app, build and port (./frameworks/): it knows what the
  // framework runs in production. Its values are proven by booting the app (src/cli/prove.ts).
  const fw = detectFramework(appFolder(dir, pkg, packageManager), { app, file: appFile, source: appSource, exports: exported, build });
  const web: Record<string, unknown> = { workers: "auto" };
  reasons.framework = `${fw.framework}: ${fw.reasons.framework}`;
  if (!fw.problem) {
    app = fw.app;
    build = fw.build ?? build;
    reasons.app = fw.reasons.app;
    if (fw.reasons.build) reasons.build = fw.reasons.build;
    if (fw.reasons.port) reasons.port = port ? `${reasons.port}; ${fw.reasons.port}` : `3000 (default); ${fw.reasons.port}`;
    if (fw.appPort) web.app_port = fw.appPort;
    for (const f of ["app", "build", "port"] as const) if (f === "port" || !fw.unsure?.includes(f)) uncertain.delete(f);
  }
  if (fw.appPort && !port) port = fw.appPort;

  // workers "auto": as many workers as the CPUs the container's cgroup quota allows, resolved by
  // the runtime where it runs (not on this machine); Gunicorn's default of 1 wastes a pre-fork server.
  const description = validateDescription({ name, version, node, packageManager, workspace, framework: fw.framework, app, build, port: port ?? 3000, processes: { web } }, pkgPath);
  return { description, uncertain: [...uncertain], reasons, warnings, framework: fw };
}
