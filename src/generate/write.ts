/**
 * Write rendered files into an app folder without losing user edits, and show drift.
 *
 * What we generated is remembered as a sha256 per path in `.prodserver/generated.json`
 * (`{ "version": 1, "files": { "<path>": "<sha256 hex>" } }`) and as the text itself under
 * `.prodserver/generated/<path>` (the merge base). A file on disk whose hash is not the one we
 * recorded was edited by someone: its edits are three-way merged (./merge.ts, diff3 as
 * `git merge-file`) with the new text — status `merge` when that is clean; when the edits and the
 * generator's change touch the same lines, or there is no base (a file we never generated), it is
 * a `conflict` and left alone unless `force`. Statuses follow Rails generators /
 * fly-apps/dockerfile-node (create, identical, update, conflict, force) plus `merge` and `kept`.
 *
 * Drift ({@link checkFiles}) tells apart, per file: `identical`; `missing` and `stale` (regenerating
 * would write or change it); `edited` (changed by hand since prodserver generated it: kept by
 * `generate`, the diff shows the edits; `stale` too when the description also changed it).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createTwoFilesPatch } from "diff";
import type { RenderedFile } from "./render.js";
import { mergeThreeWay } from "./merge.js";

/** Where the hashes of generated files are kept, relative to the app folder. */
export const GENERATED_STATE = ".prodserver/generated.json";
/** Where the last generated text of each file is kept (the three-way merge base). */
export const GENERATED_BASES = ".prodserver/generated";

/** `kept`: edited by hand, and the edits already hold everything the generator would change; untouched. */
export type WriteStatus = "create" | "identical" | "update" | "merge" | "kept" | "conflict" | "force";

/** One file's outcome; `message` is set for conflicts (which file, how to see the diff) and merges. */
export interface WriteResult {
  path: string;
  status: WriteStatus;
  message?: string;
}

/**
 * One file's drift.
 * - `status`: `identical` (on disk = generated), `missing`, `stale` (unedited; regenerating would
 *   change it), `edited` (changed by hand since generated, or a file prodserver never wrote).
 * - `stale`: regenerating would change the file (always true for `missing`/`stale`; for `edited`,
 *   true when the description also changed it).
 * - `diff`: unified diff. `stale`/`missing`: on disk → what `generate` would write. `edited`: the
 *   hand edits (last generated → on disk; none for a file prodserver never wrote), then, when also stale, on disk → what `generate` would
 *   write (the three-way merge, or the generated text when the merge conflicts).
 * - `conflict`: edited and stale with overlapping changes (`generate` would refuse; `--force` overwrites).
 */
export interface Drift {
  path: string;
  status: "identical" | "missing" | "stale" | "edited";
  stale: boolean;
  conflict: boolean;
  diff: string;
}

const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

function readState(dir: string): Record<string, string> {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(dir, GENERATED_STATE), "utf8"));
    return j && typeof j.files === "object" && j.files ? j.files : {};
  } catch {
    return {};
  }
}

function safeJoin(dir: string, rel: string): string {
  const full = path.resolve(dir, rel);
  if (path.isAbsolute(rel) || !full.startsWith(path.resolve(dir) + path.sep)) {
    throw new Error(`refusing to write ${JSON.stringify(rel)}: outside ${dir}`);
  }
  return full;
}

function writeAtomic(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.prodserver-${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/**
 * Write `files` under `dir`.
 * @param opts.force overwrite files the user edited (status `force`; their edits are lost).
 * @param opts.merge three-way merge the user's edits (default true); false = every edited file is a conflict.
 * @returns one result per file, in order. Conflicting files are not written; their `message`
 *   names the file and says `prodserver generate --check` prints the difference.
 * @throws Error for a path outside `dir`, or on I/O errors.
 */
export function writeFiles(dir: string, files: RenderedFile[], opts: { force?: boolean; merge?: boolean } = {}): WriteResult[] {
  const state = readState(dir);
  const results: WriteResult[] = [];
  for (const f of files) {
    const full = safeJoin(dir, f.path);
    const baseFile = safeJoin(path.join(dir, GENERATED_BASES), f.path);
    const current = fs.existsSync(full) ? fs.readFileSync(full, "utf8") : null;
    let status: WriteStatus;
    let text = f.content;
    let message: string | undefined;
    if (current === null) status = "create";
    else if (current === f.content) status = "identical";
    else if (state[f.path] === sha(current)) status = "update";
    else if (opts.force) status = "force";
    else {
      const base = fs.existsSync(baseFile) ? fs.readFileSync(baseFile, "utf8") : null;
      const merged = opts.merge !== false && base !== null && state[f.path] === sha(base) ? mergeThreeWay(base, current, f.content) : null;
      if (merged && merged.conflicts === 0) {
        status = merged.text === current ? "kept" : "merge";
        text = merged.text;
        message = `${f.path}: your edits were kept and merged with the regenerated file.`;
      } else {
        status = "conflict";
        const why = merged
          ? `your edits and the regenerated file change the same lines (${merged.conflicts} conflicting region${merged.conflicts === 1 ? "" : "s"})`
          : "it was edited since prodserver generated it (or was not generated by it)";
        results.push({
          path: f.path,
          status,
          message: `${f.path} not overwritten: ${why}. ` + "`prodserver generate --check` shows the difference; `prodserver generate --force` overwrites it.",
        });
        continue;
      }
    }
    if (text !== current) writeAtomic(full, text);
    if (!fs.existsSync(baseFile) || fs.readFileSync(baseFile, "utf8") !== f.content) writeAtomic(baseFile, f.content);
    state[f.path] = sha(f.content);
    results.push(message ? { path: f.path, status, message } : { path: f.path, status });
  }
  const sorted = Object.fromEntries(
    Object.keys(state)
      .sort()
      .map((k) => [k, state[k]]),
  );
  const stateText = JSON.stringify({ version: 1, files: sorted }, null, 2) + "\n";
  const stateFile = path.join(dir, GENERATED_STATE);
  if (!fs.existsSync(stateFile) || fs.readFileSync(stateFile, "utf8") !== stateText) writeAtomic(stateFile, stateText);
  return results;
}

/**
 * Compare `files` with what is on disk under `dir` (for `prodserver check` / `generate --check`);
 * writes nothing. See {@link Drift} for the statuses.
 * @returns one Drift per file, in order.
 * @throws Error for a path outside `dir`, or on I/O errors.
 */
export function checkFiles(dir: string, files: RenderedFile[], opts: { merge?: boolean } = {}): Drift[] {
  const state = readState(dir);
  return files.map((f): Drift => {
    const full = safeJoin(dir, f.path);
    const current = fs.existsSync(full) ? fs.readFileSync(full, "utf8") : null;
    const patch = (from: string, to: string, a: string, b: string) => createTwoFilesPatch(`a/${f.path}`, `b/${f.path}`, from, to, a, b);
    if (current === null) return { path: f.path, status: "missing", stale: true, conflict: false, diff: patch("", f.content, "missing", "generated") };
    const recorded = state[f.path];
    if (recorded === sha(current)) {
      // Ours, untouched since generated.
      if (current === f.content) return { path: f.path, status: "identical", stale: false, conflict: false, diff: "" };
      return { path: f.path, status: "stale", stale: true, conflict: false, diff: patch(current, f.content, "on disk", "generated") };
    }
    if (current === f.content) return { path: f.path, status: "identical", stale: false, conflict: false, diff: "" };
    // Edited by hand (or never generated by us: no base to compare with).
    const baseFile = safeJoin(path.join(dir, GENERATED_BASES), f.path);
    const base = recorded !== undefined && fs.existsSync(baseFile) ? fs.readFileSync(baseFile, "utf8") : null;
    const usable = base !== null && recorded === sha(base);
    const edits = usable ? patch(base, current, "generated", "on disk") : "";
    const stale = !usable || base !== f.content;
    if (!stale) return { path: f.path, status: "edited", stale: false, conflict: false, diff: edits };
    const merged = usable && opts.merge !== false ? mergeThreeWay(base, current, f.content) : null;
    const conflict = !merged || merged.conflicts > 0;
    const target = conflict ? f.content : merged.text;
    return { path: f.path, status: "edited", stale: target !== current, conflict, diff: edits + (target !== current ? patch(current, target, "on disk", conflict ? "generated" : "merged") : "") };
  });
}
