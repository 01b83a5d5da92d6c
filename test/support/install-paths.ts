/**
 * The paths a user takes, as the e2e tests drive them: a committed fixture copied to a scratch
 * folder, pointed at the test registry (./registry.ts) the way a user behind a private registry
 * is (`.npmrc`, and `.yarnrc.yml` for Yarn 2+), `npm create prodserver@latest -- --yes` in the app
 * folder, then `docker build` with the docker CLI, or the app's own `prodserver` command.
 */
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa, type Result } from "execa";
import { createBuildParser } from "../../src/docker/index.js";
import { loadDescription, validateDescription, renderDescriptionFile, type Description } from "../../src/description/index.js";
import { type Cleanup, REPO_ROOT, ensureBaseImage } from "./docker.js";
import { npmrc, yarnrc, type Registry } from "./registry.js";

/** Debian's docker 20.10 CLI: builds with the classic builder by default, or BuildKit. */
export const DOCKER_CLI = "/usr/bin/docker";

/**
 * Environment for package managers in these tests: never prompt (this machine's npm config says
 * `yes=false`); corepack without its signature check, because the npm registry this machine reaches
 * serves package metadata without `dist.signatures` (corepack refuses such downloads otherwise).
 */
export const PM_ENV: Record<string, string> = {
  npm_config_yes: "true",
  npm_config_update_notifier: "false",
  COREPACK_ENABLE_DOWNLOAD_PROMPT: "0",
  COREPACK_INTEGRITY_KEYS: "0",
};

/** A fixture made ready: the workspace root (the build context), the app folder, its description. */
export interface PreparedFixture {
  root: string;
  app: string;
  d: Description;
  /** Seconds `npm create prodserver` took. */
  createSeconds: number;
}

/**
 * Copies `test/fixtures/pm/<name>` to a scratch folder (registered with `cleanup`), writes the
 * registry configuration at its root, runs `npm create prodserver@latest -- --yes` in `appPath`
 * and renames the description to `name` (image tags the cleanup may remove: `prodserver-e2e-*`).
 * @throws Error with the command's output when `npm create` fails.
 */
export async function prepareFixture(fixture: string, appPath: string, name: string, reg: Registry, cleanup: Cleanup): Promise<PreparedFixture> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `prodserver-e2e-${fixture}-`));
  cleanup.dir(root);
  await fs.cp(path.join(REPO_ROOT, "test/fixtures/pm", fixture), root, { recursive: true });
  await fs.writeFile(path.join(root, ".npmrc"), npmrc(reg));
  // npm reads the .npmrc of the folder it runs in (the app) unless that is an npm workspace member.
  if (appPath !== ".") await fs.writeFile(path.join(root, appPath, ".npmrc"), npmrc(reg));
  // Yarn 1 lockfiles name each tarball's URL and Yarn 1 fetches exactly that: a lockfile made
  // against the private registry the builder reaches names that registry.
  const yarnLock = path.join(root, "yarn.lock");
  if (existsSync(yarnLock)) {
    const text = await fs.readFile(yarnLock, "utf8");
    if (text.includes("# yarn lockfile v1")) await fs.writeFile(yarnLock, text.replaceAll("https://registry.yarnpkg.com/", reg.url));
  }
  const yarnrcFile = path.join(root, ".yarnrc.yml");
  if (existsSync(yarnrcFile)) await fs.appendFile(yarnrcFile, yarnrc(reg));
  const app = path.join(root, appPath);
  // An npm cache of its own: npx installs create-prodserver@latest into a folder named by the spec,
  // and two fixtures created at once would replace each other's copy mid-run.
  const npmCache = await fs.mkdtemp(path.join(os.tmpdir(), `prodserver-e2e-npm-cache-`));
  cleanup.dir(npmCache);
  const started = performance.now();
  // --no-verify: the fixtures are not installed on the host (the image installs them), so there is nothing to boot.
  await run("npm", ["create", "prodserver@latest", "--", "--yes", "--no-verify"], app, { npm_config_cache: npmCache });
  const createSeconds = (performance.now() - started) / 1000;
  const { description, file } = await loadDescription(app);
  const d = validateDescription({ ...description, name });
  await fs.writeFile(file, renderDescriptionFile(d, "mjs"));
  await ensureBaseImage(d.node);
  return { root, app, d, createSeconds };
}

/** Runs a command with {@link PM_ENV}; throws with its output when it exits non-zero. */
export async function run(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  const r = await execa(file, args, { cwd, env: { ...PM_ENV, ...env }, reject: false, all: true, timeout: 600_000 });
  if (r.exitCode !== 0) throw new Error(`${[file, ...args].join(" ")} in ${cwd} exited ${r.exitCode ?? r.signal}:\n${String(r.all).split("\n").slice(-60).join("\n")}`);
  return r;
}

/** The app's own `prodserver` command, run the way its package manager runs a dependency's bin. */
export function prodserverCommand(d: Description): [string, string[]] {
  if (d.packageManager === "pnpm") return ["corepack", ["pnpm", "exec", "prodserver"]];
  if (d.packageManager === "yarn") return ["corepack", ["yarn", "prodserver"]];
  return ["npx", ["--no", "prodserver"]];
}

/**
 * `docker build` with the docker CLI (classic builder, as `DOCKER_BUILDKIT=0`): the layers it made
 * are registered with `cleanup`.
 * @returns the image id and the wall-clock seconds.
 */
export async function dockerCliBuild(
  contextDir: string,
  opts: { dockerfile: string; tag: string; network?: string; buildArgs?: Record<string, string> },
  cleanup: Cleanup,
): Promise<{ imageId: string; seconds: number }> {
  const args = ["build", "-f", opts.dockerfile, "-t", opts.tag];
  if (opts.network) args.push("--network", opts.network);
  for (const [k, v] of Object.entries(opts.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
  const started = performance.now();
  const r = await execa(DOCKER_CLI, [...args, "."], { cwd: contextDir, env: { DOCKER_BUILDKIT: "0" }, reject: false, all: true, timeout: 600_000 });
  const parser = createBuildParser();
  for (const line of String(r.all).split("\n")) {
    for (const ev of parser.parse({ stream: `${line}\n` })) if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
  }
  if (r.exitCode !== 0) throw new Error(`docker ${args.join(" ")} . failed:\n${String(r.all).split("\n").slice(-40).join("\n")}`);
  const imageId = (await execa(DOCKER_CLI, ["image", "inspect", "--format", "{{.Id}}", opts.tag])).stdout.trim();
  cleanup.image(imageId);
  return { imageId, seconds: (performance.now() - started) / 1000 };
}

/** What `prodserver build --json` printed: the build result and the smoke report. */
export interface CliBuild {
  code: number;
  imageId: string | null;
  buildSeconds: number | null;
  smoke: { ok: boolean; seconds: number; image: { sizeBytes: number }; checks: Array<{ name: string; ok: boolean; detail: string }> } | null;
  output: string;
}

/**
 * Runs the app's `prodserver build --json ...args` and reads its JSON lines; the layers it made
 * are registered with `cleanup`.
 */
export async function prodserverBuild(prepared: PreparedFixture, args: string[], cleanup: Cleanup, env: Record<string, string> = {}): Promise<CliBuild> {
  const [file, pre] = prodserverCommand(prepared.d);
  const r = await execa(file, [...pre, "build", "--json", ...args], { cwd: prepared.app, env: { ...PM_ENV, ...env }, reject: false, all: true, timeout: 900_000 });
  const out: CliBuild = { code: r.exitCode ?? -1, imageId: null, buildSeconds: null, smoke: null, output: String(r.all) };
  for (const line of String(r.stdout).split("\n")) {
    if (!line.startsWith("{")) continue;
    const ev = JSON.parse(line);
    if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
    if (ev.type === "image") out.imageId = ev.id;
    if (ev.type === "done") {
      out.imageId = ev.imageId ?? out.imageId;
      out.buildSeconds = ev.seconds;
    }
    if (ev.type === "smoke") out.smoke = ev;
  }
  if (out.imageId) cleanup.image(out.imageId);
  return out;
}
