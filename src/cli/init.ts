/**
 * `prodserver init` / `create-prodserver`: detect the app, write the project description
 * (prodserver.config.mjs) when there is none, then the deploy files, then add prodserver to the
 * app's dependencies with the app's package manager (as a Django app lists gunicorn: the image
 * runs prodserver from the app's installed dependencies). Asks only for what detection left
 * uncertain, and only on a TTY without --yes. Before writing a new description it boots the
 * detected app with the runtime (./verify.ts): nothing is written unless it served (or
 * --no-verify). Running it twice changes nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { descriptionFormat, detectProject, findDescriptionFile, loadDescription, renderDescriptionFile, validateDescription } from "../description/index.js";
import type { Description } from "../description/index.js";
import { endOfLifeWarning } from "../description/node-versions.js";
import { detectPackageManager } from "../description/workspace.js";
import { packageManagerFacts, renderProject, writeFiles } from "../generate/index.js";
import { packageVersion } from "../package-root.js";
import { CliError } from "./output.js";
import { EXIT } from "./exit-codes.js";
import { reportWrites } from "./generate.js";
import { verifyDetection } from "./verify.js";

/** Options of {@link runInit}. */
export interface InitOptions {
  /** The app folder (relative to cwd). */
  dir: string;
  /** Take the detected values and defaults without asking. */
  yes: boolean;
  /** Overwrite generated files the user edited. */
  force: boolean;
  /** Add prodserver to the app's dependencies with its package manager (default true). */
  install?: boolean;
  /** Boot the detected app before writing anything (default true; ./verify.ts). */
  verify?: boolean;
}

/**
 * Run init in `opts.dir`; resolves to the exit code (0 written/unchanged, EXIT.driftEdited on
 * conflicts, EXIT.appNotServable when prodserver could not be added to the app's dependencies).
 * @throws CliError (EXIT.appNotServable) when the folder has no package.json, or the detected app
 *   cannot be shown to serve (./verify.ts; nothing is written then); DescriptionError when the description is invalid.
 */
export async function runInit(opts: InitOptions): Promise<number> {
  const dir = path.resolve(opts.dir);
  if (!fs.existsSync(path.join(dir, "package.json"))) {
    throw new CliError(`${dir} has no package.json: run create-prodserver in the folder of a Node app`, EXIT.appNotServable);
  }
  let description: Description;
  let rendered: ReturnType<typeof renderProject> | null = null;
  let existing: string | null = findDescriptionFile(dir);
  if (existing) {
    description = (await loadDescription(dir)).description;
    console.log(`identical  ${existing} (kept; edit it to change the deploy files)`);
    const eol = endOfLifeWarning(Number(description.node));
    if (eol) console.error(`warning    ${eol}`);
  } else {
    const detection = await detectProject(dir);
    description = detection.description;
    const interactive = !opts.yes && process.stdin.isTTY && process.stdout.isTTY;
    if (interactive && detection.uncertain.length > 0) {
      description = await ask(description, detection.uncertain, detection.reasons);
    } else {
      for (const field of detection.uncertain) {
        console.log(`assumed    ${field} = ${JSON.stringify((description as unknown as Record<string, unknown>)[field])} (${detection.reasons[field] ?? "not detected"})`);
      }
    }
    for (const w of detection.warnings) console.error(`warning    ${w}`);
    const fw = detection.framework;
    console.log(
      `detected   ${fw.framework} (${fw.reasons.framework}): app ${JSON.stringify(description.app)}${description.build ? `, build \`${description.build.command}\` → ${description.build.output}/` : ""}`,
    );
    if (opts.verify === false) console.log(`unverified app ${JSON.stringify(description.app)} was not booted (--no-verify)`);
    else console.log(await verifyDetection(dir, description, detection, { interactive: Boolean(interactive), say: (l) => console.log(l) }));
    for (const n of fw.notes) console.log(`note       ${n}`);
    const { format } = descriptionFormat(dir);
    existing = format === "json" ? "prodserver.config.json" : "prodserver.config.mjs";
    // Rendered before anything is written: a value a template refuses leaves no description behind.
    rendered = renderProject(dir, description, existing);
    const file = path.join(dir, existing);
    const tmp = `${file}.prodserver-${process.pid}.tmp`;
    fs.writeFileSync(tmp, renderDescriptionFile(description, format));
    fs.renameSync(tmp, file);
    console.log(`create     ${existing}`);
  }
  const { root, files } = rendered ?? renderProject(dir, description, existing);
  const written = reportWrites(writeFiles(root, files, { force: opts.force }));
  const added = opts.install === false ? 0 : await addProdserver(dir, description);
  return written || added;
}

/**
 * Adds `prodserver@^<this version>` to the app's `dependencies` with the app's package manager
 * (through corepack when package.json pins one with `packageManager`), unless it is listed there.
 * The registry is the package manager's own configuration (.npmrc, .yarnrc.yml).
 * @returns 0, or EXIT.appNotServable after printing the command to run by hand.
 */
async function addProdserver(dir: string, d: Description): Promise<number> {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  if (typeof pkg.dependencies?.prodserver === "string") return 0;
  const argv = packageManagerFacts(d).addDependency(`prodserver@^${packageVersion()}`);
  // The version package.json's packageManager pins (the app's, or its workspace root's) comes from corepack.
  const viaCorepack = d.packageManager !== "npm" && detectPackageManager(dir).spec !== null;
  const [file, ...args] = viaCorepack ? ["corepack", ...argv] : argv;
  console.log(`dependency prodserver: ${argv.join(" ")}`);
  const r = await execa(file, args, {
    cwd: dir,
    reject: false,
    stdio: ["ignore", "inherit", "inherit"],
    env: { COREPACK_ENABLE_DOWNLOAD_PROMPT: "0", COREPACK_ENABLE_AUTO_PIN: "0", ...(viaCorepack ? await corepackRegistry(dir) : {}) },
  });
  if (r.exitCode === 0) return 0;
  console.error(
    `prodserver: adding prodserver to ${path.join(dir, "package.json")} failed (${r.failed && r.exitCode === undefined ? r.shortMessage : `exit ${r.exitCode}`}); ` +
      `the image runs prodserver from the app's dependencies: run \`${argv.join(" ")}\` in ${dir} and commit the lockfile`,
  );
  return EXIT.appNotServable;
}

/**
 * Where corepack downloads pnpm/yarn from: the registry npm is configured for in `dir` (.npmrc), as
 * the Dockerfile does, unless COREPACK_NPM_REGISTRY is set. Corepack's default for Yarn 2+ is
 * repo.yarnpkg.com, out of reach behind a private registry. `{}` when npm names no registry.
 */
async function corepackRegistry(dir: string): Promise<Record<string, string>> {
  if (process.env.COREPACK_NPM_REGISTRY) return {};
  const r = await execa("npm", ["config", "get", "registry"], { cwd: dir, reject: false });
  const url = r.exitCode === 0 ? r.stdout.trim().replace(/\/$/, "") : "";
  return /^https?:\/\//.test(url) ? { COREPACK_NPM_REGISTRY: url } : {};
}

/** Ask for each uncertain field on the terminal, showing the detected value as the default. */
async function ask(d: Description, fields: string[], reasons: Record<string, string>): Promise<Description> {
  const { input, select } = await import("@inquirer/prompts");
  const next: Record<string, unknown> = { ...d };
  for (const field of fields) {
    const why = reasons[field] ? ` (${reasons[field]})` : "";
    if (field === "packageManager") {
      next.packageManager = await select({
        message: `Package manager${why}`,
        choices: ["npm", "pnpm", "yarn"].map((v) => ({ value: v })),
        default: d.packageManager,
      });
    } else if (field === "port") {
      next.port = Number(
        await input({ message: `Port the app listens on${why}`, default: String(d.port), validate: (v) => (/^\d+$/.test(v) && Number(v) > 0 && Number(v) < 65536) || "a port number 1-65535" }),
      );
    } else if (field === "build") {
      const cmd = await input({ message: `Build command, empty for none${why}`, default: d.build?.command ?? "" });
      next.build = cmd ? { command: cmd, output: await input({ message: "Build output folder", default: d.build?.output ?? "dist" }) } : null;
    } else if (field === "name" || field === "app" || field === "node") {
      const labels = { name: "Name (image and unit names)", app: "App to serve (module#export)", node: "Node major version" };
      next[field] = await input({ message: `${labels[field]}${why}`, default: String(d[field]) });
    }
  }
  return validateDescription(next, "your answers");
}
