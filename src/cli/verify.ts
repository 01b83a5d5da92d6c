/**
 * `create-prodserver` never writes an `app` it has not seen serve. Before anything is written it
 * checks, in order, and stops at the first that fails:
 *
 * 1. the framework adapter found nothing that stops the app from serving (a SvelteKit app on
 *    adapter-auto, a static Next.js export, a framework package in devDependencies);
 * 2. the app's dependencies are installed (else: run `npm ci`);
 * 3. the build output the adapter expects exists (else: run `npm run build`);
 * 4. the app boots with the runtime and answers (./prove.ts).
 *
 * Each failure is a CliError with exit 16 (appNotServable) naming the file, what was found and the
 * exact change or command. On a terminal (no --yes) the missing install or build is offered to be
 * run, and a failed proof asks whether to write the files anyway (default no).
 */
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { Description, Detection } from "../description/index.js";
import { EXIT } from "./exit-codes.js";
import { CliError } from "./output.js";
import { proveServes } from "./prove.js";

/** How {@link verifyDetection} may talk to the user. */
export interface VerifyOptions {
  /** On a terminal without --yes: offer to run the install/build, ask before writing an unproven app. */
  interactive: boolean;
  /** Print a progress line. */
  say?: (line: string) => void;
}

/** Whether package `name` is installed for the app in `dir` (its node_modules or one above: workspaces hoist). */
export function installed(dir: string, name: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "node_modules", name, "package.json"))) return true;
    if (path.dirname(d) === d) return false;
  }
}

/** The command that installs the app's dependencies on this machine, as its package manager has it. */
export function installCommand(d: Pick<Description, "packageManager">, dir: string): string {
  if (d.packageManager === "pnpm") return "pnpm install --frozen-lockfile";
  if (d.packageManager === "yarn") return "yarn install --frozen-lockfile";
  return fs.existsSync(path.join(dir, "package-lock.json")) || fs.existsSync(path.join(dir, "npm-shrinkwrap.json")) ? "npm ci" : "npm install";
}

/** The first missing package of `names` (package.json `dependencies`, and `devDependencies` when a build must run), or null. */
function missingPackage(dir: string, withDev: boolean): string | null {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const names = [...Object.keys(pkg.dependencies ?? {}), ...(withDev ? Object.keys(pkg.devDependencies ?? {}) : [])];
  return names.find((n) => n !== "prodserver" && !installed(dir, n)) ?? null;
}

/** Ask a yes/no question on the terminal. */
async function confirm(message: string, fallback: boolean): Promise<boolean> {
  const { confirm: ask } = await import("@inquirer/prompts");
  return ask({ message, default: fallback });
}

/** Run `command` (a shell line) in `dir` with the user's terminal, or fail naming it. */
async function runHere(command: string, dir: string): Promise<void> {
  const r = await execa(command, { cwd: dir, shell: true, stdio: "inherit", reject: false });
  if (r.exitCode !== 0) throw new CliError(`\`${command}\` failed in ${dir} (exit ${r.exitCode ?? r.signal})`, EXIT.appNotServable, { hint: "fix the error above, then run create-prodserver again" });
}

/**
 * Offer to run `command` (interactive), else fail with `message` naming it.
 * @throws CliError EXIT.appNotServable
 */
async function needs(message: string, command: string, dir: string, opts: VerifyOptions): Promise<void> {
  if (opts.interactive && (await confirm(`${message}. Run \`${command}\` now?`, true))) return runHere(command, dir);
  throw new CliError(message, EXIT.appNotServable, { hint: `run \`${command}\` in ${dir}, then create-prodserver again` });
}

/**
 * Checks and proves the detected description `d` of the app in `dir` (see the module doc).
 * @returns a line to print (`verified ...`) once the app served.
 * @throws CliError EXIT.appNotServable naming the file, what was found and the change to make.
 */
export async function verifyDetection(dir: string, d: Description, detection: Detection, opts: VerifyOptions): Promise<string> {
  const fw = detection.framework;
  if (fw.problem) {
    throw new CliError(`${path.join(dir, fw.problem.file)}: ${fw.problem.found}; the app cannot be served as it is`, EXIT.appNotServable, { hint: fw.problem.change });
  }
  const built = () => fw.built.filter((f) => !fs.existsSync(path.join(dir, f)));
  const needsBuild = d.build !== null && built().length > 0;
  const missing = missingPackage(dir, needsBuild);
  if (missing) await needs(`the app's dependencies are not installed (no ${missing} in node_modules)`, installCommand(d, dir), dir, opts);
  if (d.build && built().length > 0) {
    await needs(`the build output is missing (${built().join(", ")}): ${fw.framework} builds with \`${d.build.command}\``, d.build.command, dir, opts);
    if (built().length > 0)
      throw new CliError(`\`${d.build.command}\` did not write ${built().join(", ")}`, EXIT.appNotServable, {
        hint: `check where the build writes its output and set build.output and app in the description`,
      });
  }
  opts.say?.(`boot       app ${JSON.stringify(d.app)} with the runtime, 1 worker, on 127.0.0.1 ...`);
  const proof = await proveServes({ cwd: path.join(dir, fw.proofDir ?? "."), app: d.app, appPort: (d.processes.web.app_port as number | undefined) ?? null });
  if (proof.ok) return `verified   app ${JSON.stringify(d.app)} serves: ${proof.detail}`;
  const entry = d.app.split(/[#\s]/)[0];
  const message = `the app does not serve: ${proof.detail}\n${proof.log.trimEnd().split("\n").slice(-25).join("\n")}`;
  const hint = `${detection.reasons.app ?? ""}${detection.reasons.app ? "; " : ""}see the runtime's message above about ${entry}; fix the app or set app (and processes.web.app_port) in the description by hand, then run create-prodserver again`;
  if (opts.interactive && (await confirm(`${message}\nWrite the files anyway?`, false))) return `unproven  app ${JSON.stringify(d.app)} (${proof.detail}); written at your request`;
  throw new CliError(message, EXIT.appNotServable, { hint });
}
