/**
 * Example apps prepared for image tests: a scratch copy with the generator's files written as
 * `create-prodserver --yes` would (library calls, no CLI), prodserver added to its dependencies
 * from the test registry (./registry.ts; an `.npmrc` in the copy points npm there, as a user
 * behind a private registry has), plus planted secrets (`.env`, `.env.production`, `.git/HEAD`)
 * that must never reach an image.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { detectProject, validateDescription, type Description } from "../../src/description/index.js";
import { renderFiles, writeFiles } from "../../src/generate/index.js";
import { type Cleanup, REPO_ROOT, ensureBaseImage, scratchCopy } from "./docker.js";
import { npmrc, sharedRegistry } from "./registry.js";

/**
 * Adds `prodserver@^<version>` from the test registry to the npm app in `dir` (package.json and
 * package-lock.json only, no node_modules), after writing an `.npmrc` that points at the registry.
 */
export async function addProdserverNpm(dir: string): Promise<void> {
  const reg = await sharedRegistry();
  await fs.writeFile(path.join(dir, ".npmrc"), npmrc(reg));
  await execa("npm", ["install", "--package-lock-only", "--save", `prodserver@^${reg.version}`, "--no-audit", "--no-fund"], { cwd: dir });
}

/**
 * @param example folder relative to the repo root (e.g. `examples/express-app`)
 * @param label short name used in the image name `prodserver-e2e-<label>` and the temp dir
 * @param run unique run id used in the tag `t<run>` so tests never clobber real images
 * @returns the scratch dir (registered with `cleanup`) and the description used
 */
export async function prepareApp(
  example: string,
  label: string,
  run: string,
  cleanup: Cleanup,
  /** Top-level description fields to override (merged one level deep: `{ health: { startPeriod: 5 } }`). */
  overrides: Record<string, Record<string, unknown>> = {},
): Promise<{ dir: string; d: Description }> {
  const dir = await scratchCopy(path.join(REPO_ROOT, example), label);
  cleanup.dir(dir);
  await addProdserverNpm(dir);
  const detected = (await detectProject(dir)).description;
  // A short health interval keeps the tests quick (Docker 20.10 has no --start-interval).
  const base: Record<string, any> = {
    ...detected,
    name: `prodserver-e2e-${label}`,
    version: `t${run}`,
    processes: { web: { ...detected.processes.web, workers: 2, graceful_timeout: 10 } },
    health: { ...detected.health, interval: 2 },
  };
  for (const [k, v] of Object.entries(overrides)) base[k] = { ...base[k], ...v };
  const d = validateDescription(base);
  await ensureBaseImage(d.node);
  writeFiles(dir, renderFiles(d), { force: true });
  await fs.writeFile(path.join(dir, ".env"), "DATABASE_PASSWORD=e2e-must-not-ship\n");
  await fs.writeFile(path.join(dir, ".env.production"), "API_TOKEN=e2e-must-not-ship\n");
  await fs.mkdir(path.join(dir, ".git"), { recursive: true });
  await fs.writeFile(path.join(dir, ".git/HEAD"), "ref: refs/heads/main\n");
  return { dir, d };
}
