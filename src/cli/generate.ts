/** `prodserver generate` and `prodserver check`: render the deploy files, or compare them with disk. */
import path from "node:path";
import { loadDescription } from "../description/index.js";
import { endOfLifeWarning } from "../description/node-versions.js";
import { renderProject, writeFiles, checkFiles, TARGETS, type RenderedFile, type Target, type WriteResult } from "../generate/index.js";
import { EXIT } from "./exit-codes.js";
import { Output, UsageError } from "./output.js";

/**
 * Print one line per written file (`create`, `identical`, `update`, `merge`, `kept`, `conflict`, `force`;
 * JSON: `{"type":"file","path","status","message"?}`).
 * @returns 0, or EXIT.driftEdited when a file was kept because its edits conflict
 */
export function reportWrites(results: WriteResult[], out: Output = new Output("human")): number {
  let conflicts = 0;
  for (const r of results) {
    out.say(`${r.status.padEnd(10)} ${r.path}\n`);
    out.event("file", { path: r.path, status: r.status, ...(r.message ? { message: r.message } : {}) });
    if (r.status === "conflict") {
      conflicts++;
      out.warn(`  ${r.message}\n`);
    }
  }
  return conflicts > 0 ? EXIT.driftEdited : EXIT.ok;
}

/**
 * `generate [targets..] [--check] [--force]`: resolves to 0, or EXIT.driftEdited on conflicts
 * (write); with `--check` the drift codes of {@link printDrift}. No target = the default set
 * (all but k8s); `all` = every target.
 * @throws UsageError for an unknown target; DescriptionFileError/DescriptionError from loading.
 */
export async function runGenerate(opts: { dir: string; targets: string[]; check: boolean; force: boolean }, out: Output = new Output("human")): Promise<number> {
  const dir = path.resolve(opts.dir);
  for (const t of opts.targets) {
    if (t !== "all" && !(TARGETS as readonly string[]).includes(t)) {
      throw new UsageError(`generate: unknown target ${JSON.stringify(t)}; expected all or one of ${TARGETS.join(", ")}`);
    }
  }
  const { description, file } = await loadDescription(dir);
  // In a workspace, paths are relative to the workspace root (the build context).
  const { root, files } = renderProject(dir, description, file, { targets: opts.targets as Array<Target | "all"> });
  if (opts.check) return printDrift(root, files, out);
  return reportWrites(writeFiles(root, files, { force: opts.force }), out);
}

/**
 * `check`: validate the description (loading does; JSON `{"type":"description","file","valid":true}`)
 * and report drift of every generated file.
 */
export async function runCheck(opts: { dir: string }, out: Output = new Output("human")): Promise<number> {
  const dir = path.resolve(opts.dir);
  const { description, file } = await loadDescription(dir);
  out.say(`valid      ${path.relative(dir, file)}\n`);
  out.event("description", { file: path.relative(dir, file), valid: true });
  const eol = endOfLifeWarning(Number(description.node));
  if (eol) out.warn(`warning    ${eol}\n`);
  const { root, files } = renderProject(dir, description, file);
  return printDrift(root, files, out);
}

/**
 * Print one line per file (`identical`, `missing`, `stale`, `edited`) and the diffs (see Drift).
 * JSON: `{"type":"file","path","status","stale","conflict"?,"diff"?}`.
 * @returns EXIT.driftEdited when a file was edited by hand (it wins when both occur),
 *   EXIT.driftStale when a file is missing or stale, else EXIT.ok.
 */
function printDrift(dir: string, files: RenderedFile[], out: Output): number {
  let stale = 0;
  let edited = 0;
  for (const d of checkFiles(dir, files)) {
    const note =
      d.status !== "edited"
        ? ""
        : d.conflict
          ? " (by hand; the description changes the same lines: `prodserver generate` reports a conflict, `--force` overwrites)"
          : d.stale
            ? " (by hand; `prodserver generate` keeps the edits and merges the description's changes)"
            : " (by hand; `prodserver generate` keeps it)";
    out.say(`${d.status.padEnd(10)} ${d.path}${note}
`);
    out.say(d.diff);
    out.event("file", { path: d.path, status: d.status, stale: d.stale, ...(d.conflict ? { conflict: true } : {}), ...(d.diff ? { diff: d.diff } : {}) });
    if (d.status === "edited") edited++;
    else if (d.stale) stale++;
  }
  if (edited > 0)
    out.warn(`${edited} file(s) edited by hand since they were generated (kept; the diff shows the edits)
`);
  if (stale > 0)
    out.warn(`${stale} file(s) differ from the description; \`prodserver generate\` rewrites them
`);
  return edited > 0 ? EXIT.driftEdited : stale > 0 ? EXIT.driftStale : EXIT.ok;
}
