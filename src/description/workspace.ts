/**
 * Package manager and workspace detection from the files on disk (read-only; never runs a package
 * manager). The rules follow fly-apps/dockerfile-node `gdf.js` and Railpack: `packageManager` in
 * package.json (corepack's field) wins, then the lockfile; an app folder inside an npm/yarn
 * workspace (`workspaces` in a parent package.json) or a pnpm workspace (`pnpm-workspace.yaml`)
 * takes both from the workspace root, where the one lockfile lives.
 */
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { Description } from "./types.js";

/** Lockfile name → package manager. */
export const LOCKFILES: ReadonlyArray<readonly [string, Description["packageManager"]]> = [
  ["package-lock.json", "npm"],
  ["npm-shrinkwrap.json", "npm"],
  ["pnpm-lock.yaml", "pnpm"],
  ["yarn.lock", "yarn"],
];

/** A workspace that contains the app folder. */
export interface WorkspaceInfo {
  /** Absolute path of the workspace root (holds the lockfile). */
  root: string;
  /** The app folder relative to the root, POSIX (`apps/web`). */
  path: string;
  /** The app's package name (package.json `name`), for `--filter` / `workspaces focus`. */
  package: string;
}

/** What {@link detectPackageManager} found. */
export interface PackageManagerInfo {
  packageManager: Description["packageManager"];
  /** corepack's `packageManager` field (`pnpm@10.1.0+sha512...`) where it was read, else null. */
  spec: string | null;
  /** Why: which field or lockfile decided. */
  reason: string;
  /** True when nothing decided (no field, no or several lockfiles). */
  uncertain: boolean;
  workspace: WorkspaceInfo | null;
}

// biome-ignore lint/suspicious/noExplicitAny: package.json / workspace files, each field checked where it is read
const readJson = (file: string): any => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
};

/** A workspace glob (`apps/*`, `packages/**`, `web`) as a RegExp over POSIX relative paths. */
function globRegExp(glob: string): RegExp {
  const g = glob.replace(/^\.\//, "").replace(/\/+$/, "");
  let re = "";
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === "*" && g[i + 1] === "*") {
      const slash = g[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether `rel` is matched by the workspace `patterns` (a `!pattern` excludes, as pnpm's). */
export function matchesWorkspace(rel: string, patterns: readonly string[]): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith("!")) {
      if (globRegExp(p.slice(1)).test(rel)) hit = false;
    } else if (globRegExp(p).test(rel)) hit = true;
  }
  return hit;
}

/** The workspace patterns declared in `dir` (package.json `workspaces`, pnpm-workspace.yaml `packages`), or null. */
function workspacePatterns(dir: string): { patterns: string[]; pnpm: boolean } | null {
  const pnpmFile = path.join(dir, "pnpm-workspace.yaml");
  if (fs.existsSync(pnpmFile)) {
    const y = parseYaml(fs.readFileSync(pnpmFile, "utf8")) as { packages?: unknown } | null;
    const list = Array.isArray(y?.packages) ? y.packages.filter((p): p is string => typeof p === "string") : [];
    return { patterns: list, pnpm: true };
  }
  const ws = readJson(path.join(dir, "package.json"))?.workspaces;
  const list = Array.isArray(ws) ? ws : Array.isArray(ws?.packages) ? ws.packages : null;
  return list ? { patterns: list.filter((p: unknown): p is string => typeof p === "string"), pnpm: false } : null;
}

/**
 * The workspace whose patterns include `dir` (searched upward from its parent), or null.
 * @throws Error naming the package.json when the app inside a workspace has no `name`.
 */
export function findWorkspace(dir: string): WorkspaceInfo | null {
  const app = path.resolve(dir);
  for (let up = path.dirname(app); ; up = path.dirname(up)) {
    const ws = workspacePatterns(up);
    const rel = path.relative(up, app).split(path.sep).join("/");
    if (ws && matchesWorkspace(rel, ws.patterns)) {
      const name = readJson(path.join(app, "package.json"))?.name;
      if (typeof name !== "string" || !name) throw new Error(`${path.join(app, "package.json")}: a workspace package needs a "name" (the workspace root is ${up})`);
      return { root: up, path: rel, package: name };
    }
    if (path.dirname(up) === up) return null;
  }
}

/**
 * Detect the package manager of the app in `dir` (and its workspace). The `packageManager`
 * field is read from the app's package.json, then the workspace root's; lockfiles from the
 * folder that holds them (the workspace root for a workspace app).
 */
export function detectPackageManager(dir: string): PackageManagerInfo {
  const workspace = findWorkspace(dir);
  const lockDir = workspace?.root ?? dir;
  for (const where of [dir, lockDir]) {
    const field = readJson(path.join(where, "package.json"))?.packageManager;
    const m = typeof field === "string" ? /^(npm|pnpm|yarn)@/.exec(field) : null;
    if (m) {
      const pm = m[1] as Description["packageManager"];
      return { packageManager: pm, spec: field, reason: `package.json packageManager ${JSON.stringify(field)}`, uncertain: false, workspace };
    }
  }
  const has = (f: string) => fs.existsSync(path.join(lockDir, f));
  const found = LOCKFILES.filter(([f]) => has(f));
  const pms = [...new Set(found.map(([, pm]) => pm))];
  if (pms.length === 1) {
    return { packageManager: pms[0], spec: null, reason: `lockfile ${found[0][0]}`, uncertain: false, workspace };
  }
  if (workspace && fs.existsSync(path.join(workspace.root, "pnpm-workspace.yaml")) && pms.length === 0) {
    return { packageManager: "pnpm", spec: null, reason: "pnpm-workspace.yaml", uncertain: true, workspace };
  }
  return {
    packageManager: pms[0] ?? "npm",
    spec: null,
    reason: pms.length ? `several lockfiles (${pms.join(", ")})` : "no lockfile; npm assumed",
    uncertain: true,
    workspace,
  };
}
