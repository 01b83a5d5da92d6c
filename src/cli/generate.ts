/** `prodserver generate` and `prodserver check`: render the deploy files, or compare them with disk. */
import path from "node:path";
import { loadDescription } from "../description/index.js";
import { renderFiles, writeFiles, checkFiles, TARGETS, type Target, type WriteResult } from "../generate/index.js";
import { EXIT } from "./exit-codes.js";
import { CliError } from "./output.js";

/** Print one line per written file (`create`, `identical`, `update`, `merge`, `kept`, `conflict`, `force`); 1 when any conflicts. */
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
 * `generate [targets..] [--check] [--force]`: resolves to 0, or 1 on conflicts (write); with
 * `--check` the drift codes of {@link printDrift}.
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
  const { description } = await loadDescription(dir);
  const files = renderFiles(description, { targets: opts.targets as Array<Target | "all"> });
  if (opts.check) return printDrift(dir, files);
  return reportWrites(writeFiles(dir, files, { force: opts.force }));
}

/** `check`: validate the description (loading does) and report drift of every generated file. */
export async function runCheck(opts: { dir: string }): Promise<number> {
  const dir = path.resolve(opts.dir);
  const { description, file } = await loadDescription(dir);
  console.log(`valid      ${path.relative(dir, file)}`);
  return printDrift(dir, renderFiles(description));
}

/**
 * Print one line per file (`identical`, `missing`, `stale`, `edited`) and the diffs (see Drift).
 * @returns EXIT.driftEdited when a file was edited by hand (it wins when both occur),
 *   EXIT.driftStale when a file is missing or stale, else EXIT.ok.
 */
function printDrift(dir: string, files: ReturnType<typeof renderFiles>): number {
  let stale = 0;
  let edited = 0;
  for (const d of checkFiles(dir, files)) {
    const note =
      d.status !== "edited" ? ""
      : d.conflict ? " (by hand; the description changes the same lines: `prodserver generate` reports a conflict, `--force` overwrites)"
      : d.stale ? " (by hand; `prodserver generate` keeps the edits and merges the description's changes)"
      : " (by hand; `prodserver generate` keeps it)";
    console.log(`${d.status.padEnd(10)} ${d.path}${note}`);
    process.stdout.write(d.diff);
    if (d.status === "edited") edited++;
    else if (d.stale) stale++;
  }
  if (edited > 0) console.error(`${edited} file(s) edited by hand since they were generated (kept; the diff shows the edits)`);
  if (stale > 0) console.error(`${stale} file(s) differ from the description; \`prodserver generate\` rewrites them`);
  return edited > 0 ? EXIT.driftEdited : stale > 0 ? EXIT.driftStale : EXIT.ok;
}
