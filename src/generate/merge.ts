/**
 * Three-way merge for regeneration: keep the user's edits to a generated file and still bring in
 * what the generator changed, the way `git merge-file` does (diff3, line-based).
 *
 * Inputs are whole file texts: `base` = what prodserver generated last time (kept by the writer
 * under `.prodserver/`), `ours` = the file on disk (the user's edits), `theirs` = what the generator
 * renders now. Regions changed on one side only take that side; regions changed identically on both
 * sides are not conflicts; regions changed differently (or adjacent changes, as in git) become a
 * conflict block with git-style markers, which editors and `git diff` recognise:
 *
 * ```
 * <<<<<<< your edits
 * ...ours...
 * =======
 * ...theirs...
 * >>>>>>> generated
 * ```
 *
 * The diff3 algorithm is node-diff3's (Khanna, Kunal and Pierce, "A Formal Investigation of Diff3",
 * FSTTCS 2007 — the same algorithm as GNU diff3); no `git` binary is needed at run time.
 */
import { diff3Merge } from "node-diff3";

/** The marker labels; `ours` = the file on disk, `theirs` = the newly generated text. */
export const MERGE_LABELS = { ours: "your edits", theirs: "generated" } as const;

/** What {@link mergeThreeWay} returns: the merged text and how many conflict blocks it holds. */
export interface MergeResult {
  /** The merged file. Equal to `theirs` when `ours === base`, to `ours` when `theirs === base`. */
  text: string;
  /** Conflict blocks (`<<<<<<<` … `>>>>>>>`) in `text`; 0 = a clean merge. */
  conflicts: number;
}

export interface MergeOptions {
  /** Labels after `<<<<<<<` and `>>>>>>>`; default {@link MERGE_LABELS}. Must be one line each. */
  labels?: { ours?: string; theirs?: string };
}

/** Split into lines that keep their terminator, so joining is exact ("a\nb" → ["a\n", "b"]). */
function lines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** True when most line ends of `text` are CRLF. */
function isCrlf(text: string): boolean {
  const crlf = (text.match(/\r\n/g) ?? []).length;
  return crlf > 0 && crlf * 2 >= (text.match(/\n/g) ?? []).length;
}

/** The lines of a conflict side, the last one terminated so the next marker starts a line. */
function side(block: string[], eol: string): string {
  const s = block.join("");
  return s === "" || s.endsWith("\n") ? s : s + eol;
}

/**
 * Merge `ours` (the file on disk) and `theirs` (newly generated) against `base` (generated last
 * time), line by line.
 * @param base the text prodserver generated last time (stored under `.prodserver/`).
 * @param ours the current file on disk, with the user's edits.
 * @param theirs the text the generator renders now.
 * @returns `{ text, conflicts }`: `conflicts` counts conflict blocks marked in `text` with
 *   `<<<<<<< your edits` / `=======` / `>>>>>>> generated` lines. When `ours` uses CRLF line ends
 *   and `base` does not, `base` and `theirs` are read as CRLF, so an editor's line-end conversion is
 *   not a conflict and the result keeps the user's line ends.
 * @throws TypeError naming the argument when an input is not a string or a label is not one line.
 */
export function mergeThreeWay(base: string, ours: string, theirs: string, opts: MergeOptions = {}): MergeResult {
  for (const [name, v] of [
    ["base", base],
    ["ours", ours],
    ["theirs", theirs],
  ] as const) {
    if (typeof v !== "string") throw new TypeError(`mergeThreeWay: ${name} must be a string (got ${v === null ? "null" : typeof v})`);
  }
  const labels = { ...MERGE_LABELS, ...opts.labels };
  for (const [name, v] of Object.entries(labels)) {
    if (typeof v !== "string" || /[\r\n]/.test(v)) throw new TypeError(`mergeThreeWay: labels.${name} must be a one-line string`);
  }
  if (ours === base || ours === theirs) return { text: theirs, conflicts: 0 };
  if (theirs === base) return { text: ours, conflicts: 0 };
  const eol = isCrlf(ours) ? "\r\n" : "\n";
  if (eol === "\r\n" && !isCrlf(base)) {
    const toCrlf = (s: string) => s.replace(/\r?\n/g, "\r\n");
    base = toCrlf(base);
    theirs = toCrlf(theirs);
    if (ours === base || ours === theirs) return { text: theirs, conflicts: 0 };
    if (theirs === base) return { text: ours, conflicts: 0 };
  }
  const regions = diff3Merge<string>(lines(ours), lines(base), lines(theirs), { excludeFalseConflicts: true });
  let text = "";
  let conflicts = 0;
  for (const r of regions) {
    if (r.ok) text += r.ok.join("");
    else if (r.conflict) {
      // As git's "zealous" merge: lines both sides agree on at the block's start/end stay outside it.
      const { a, b } = r.conflict;
      let pre = 0;
      while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
      let post = 0;
      while (post < a.length - pre && post < b.length - pre && a[a.length - 1 - post] === b[b.length - 1 - post]) post++;
      const mine = a.slice(pre, a.length - post);
      const gen = b.slice(pre, b.length - post);
      text += a.slice(0, pre).join("");
      if (mine.length || gen.length) {
        conflicts++;
        text += `<<<<<<< ${labels.ours}${eol}${side(mine, eol)}=======${eol}${side(gen, eol)}>>>>>>> ${labels.theirs}${eol}`;
      }
      text += a.slice(a.length - post).join("");
    }
  }
  return { text, conflicts };
}
