/**
 * `prodserver init` / `create-prodserver`: detect the app, write the project description
 * (prodserver.config.ts) when there is none, then the deploy files. Asks only for what detection
 * left uncertain, and only on a TTY without --yes. Running it twice changes nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { detectProject, loadDescription, renderDescriptionFile, validateDescription, DESCRIPTION_FILES } from "../description/index.js";
import type { Description } from "../description/index.js";
import { renderFiles, writeFiles } from "../generate/index.js";
import { EXIT } from "./exit-codes.js";
import { CliError } from "./output.js";
import { reportWrites } from "./generate.js";

/** Options of {@link runInit}. */
export interface InitOptions {
  /** The app folder (relative to cwd). */
  dir: string;
  /** Take the detected values and defaults without asking. */
  yes: boolean;
  /** Overwrite generated files the user edited. */
  force: boolean;
}

/**
 * Run init in `opts.dir`; resolves to the exit code (0 written/unchanged, EXIT.driftEdited on conflicts).
 * @throws CliError (EXIT.appNotServable) when the folder has no package.json; DescriptionError when the description is invalid.
 */
export async function runInit(opts: InitOptions): Promise<number> {
  const dir = path.resolve(opts.dir);
  if (!fs.existsSync(path.join(dir, "package.json"))) {
    throw new CliError(`${dir} has no package.json: run create-prodserver in the folder of a Node app`, EXIT.appNotServable);
  }
  let description: Description;
  const existing = DESCRIPTION_FILES.find((f) => fs.existsSync(path.join(dir, f)));
  if (existing) {
    description = (await loadDescription(dir)).description;
    console.log(`identical  ${existing} (kept; edit it to change the deploy files)`);
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
    const file = path.join(dir, "prodserver.config.ts");
    const tmp = `${file}.prodserver-${process.pid}.tmp`;
    fs.writeFileSync(tmp, renderDescriptionFile(description, "ts"));
    fs.renameSync(tmp, file);
    console.log("create     prodserver.config.ts");
  }
  return reportWrites(writeFiles(dir, renderFiles(description), { force: opts.force }));
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
      next.port = Number(await input({ message: `Port the app listens on${why}`, default: String(d.port), validate: (v) => /^\d+$/.test(v) && Number(v) > 0 && Number(v) < 65536 || "a port number 1-65535" }));
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
