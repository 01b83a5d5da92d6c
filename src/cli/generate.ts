/** `prodserver generate` and `prodserver check`: render the deploy files, or compare them with disk. */
import path from "node:path";
import { loadDescription } from "../description/index.js";
import { endOfLifeWarning } from "../description/node-versions.js";
import { renderProject, writeFiles, checkFiles, TARGETS, type RenderedFile, type Target, type WriteResult } from "../generate/index.js";
import { CliError } from "./output.js";

/** Print one line per written file (`create`, `identical`, `update`, `merge`, `conflict`, `force`); 1 when any conflicts. */
export function reportWrites(results: WriteResult[]): number {
  let conflicts = 0;
  for (const r of results) {
    console.log(`${r.status.padEnd(10)} ${r.path}`);
    if (r.status === "conflict") {
      conflicts++;
      console.error(`  ${r.message}`);
    }
  }
  return conflicts > 0 ? 1 : 0;
}

/**
 * `generate [targets..] [--check] [--force]`: resolves to 0, or 1 on conflicts (write) / drift (--check).
 * No target = the default set (all but k8s); `all` = every target.
 * @throws CliError for an unknown target.
 */
export async function runGenerate(opts: { dir: string; targets: string[]; check: boolean; force: boolean }): Promise<number> {
  const dir = path.resolve(opts.dir);
  for (const t of opts.targets) {
    if (t !== "all" && !(TARGETS as readonly string[]).includes(t)) {
      throw new CliError(`generate: unknown target ${JSON.stringify(t)}; expected all or one of ${TARGETS.join(", ")}`);
    }
  }
  const { description, file } = await loadDescription(dir);
  // In a workspace, paths are relative to the workspace root (the build context).
  const { root, files } = renderProject(dir, description, file, { targets: opts.targets as Array<Target | "all"> });
  if (opts.check) return printDrift(root, files);
  return reportWrites(writeFiles(root, files, { force: opts.force }));
}

/** `check`: validate the description (loading does) and report drift of every generated file. */
export async function runCheck(opts: { dir: string }): Promise<number> {
  const dir = path.resolve(opts.dir);
  const { description, file } = await loadDescription(dir);
  console.log(`valid      ${path.relative(dir, file)}`);
  const eol = endOfLifeWarning(Number(description.node));
  if (eol) console.error(`warning    ${eol}`);
  const { root, files } = renderProject(dir, description, file);
  return printDrift(root, files);
}

function printDrift(dir: string, files: RenderedFile[]): number {
  let drift = 0;
  for (const d of checkFiles(dir, files)) {
    console.log(`${d.status.padEnd(10)} ${d.path}`);
    if (d.status !== "identical") {
      drift++;
      process.stdout.write(d.diff);
    }
  }
  if (drift > 0) console.error(`${drift} file(s) differ from the description; \`prodserver generate\` rewrites them`);
  return drift > 0 ? 1 : 0;
}
