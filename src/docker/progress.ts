/**
 * Renderers for {@link BuildEvent}s, one per output mode of `prodserver build`:
 * - human: one line per step with elapsed seconds, `(cached)` for cache hits; step output only
 *   when `verbose` (failures print the failing step's output through the thrown BuildError);
 * - quiet (`--quiet`): nothing while building; the caller prints the final line;
 * - json (`--json`): one JSON object per line (JSON Lines), the event as-is.
 */
import type { BuildEvent, BuildResult } from "./build.js";

/** A sink for text; `process.stdout.write.bind(process.stdout)` in the CLI. */
export type Write = (text: string) => void;

/** Output mode of the build progress. */
export type ProgressMode = "human" | "quiet" | "json";

/** What a renderer returns: `onProgress` for buildImage and `done` for the final line. */
export interface ProgressRenderer {
  onProgress(event: BuildEvent): void;
  /** Prints the final line: `built <tags> (<id12>) in 12.3s, 9/14 steps cached` (JSON: a `done` event). */
  done(result: BuildResult): void;
}

/** Formats seconds as `1.2s` / `1m05s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds - m * 60)).padStart(2, "0")}s`;
}

/** Formats bytes as `123.4 MB` (decimal units, as `docker images`). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** The final line of every mode but json. */
export function finalLine(result: BuildResult): string {
  const id = result.imageId.replace(/^sha256:/, "").slice(0, 12);
  return `built ${result.tags.join(", ")} (${id}) in ${formatSeconds(result.seconds)}, ${result.cachedSteps}/${result.totalSteps} steps cached\n`;
}

/**
 * Creates the renderer for a mode.
 * @param mode "human" | "quiet" | "json"
 * @param write text sink
 * @param opts.verbose human mode: also print each step's output lines, indented
 * @throws Error naming `mode` when it is not one of the three.
 */
export function createProgressRenderer(mode: ProgressMode, write: Write, opts: { verbose?: boolean } = {}): ProgressRenderer {
  if (mode === "json") {
    return {
      onProgress: (ev) => write(`${JSON.stringify(ev)}\n`),
      done: (r) => write(`${JSON.stringify({ type: "done", ...r })}\n`),
    };
  }
  if (mode === "quiet") return { onProgress: () => {}, done: (r) => write(finalLine(r)) };
  if (mode !== "human") throw new Error(`progress mode: ${JSON.stringify(mode)} is not one of human, quiet, json`);
  // A step's line is written when it starts and completed (elapsed or "(cached)") when the next
  // event of another step arrives, so a long RUN shows what is running.
  let open: { index: number; total: number; seconds: number; cached: boolean; lineOpen: boolean } | null = null;
  const close = (now: number): void => {
    if (!open) return;
    const result = open.cached ? "(cached)" : formatSeconds(Math.max(0, now - open.seconds));
    write(open.lineOpen ? `  ${result}\n` : `  [${open.index}/${open.total}] done ${result}\n`);
    open = null;
  };
  return {
    onProgress(ev) {
      if (ev.type === "step") {
        close(ev.seconds);
        const instr = ev.instruction.length > 90 ? `${ev.instruction.slice(0, 87)}...` : ev.instruction;
        write(`  [${ev.index}/${ev.total}] ${instr}`);
        open = { index: ev.index, total: ev.total, seconds: ev.seconds, cached: false, lineOpen: true };
      } else if (ev.type === "layer" && ev.cached && open) {
        open.cached = true;
      } else if (ev.type === "output" && opts.verbose) {
        if (open?.lineOpen) { write("\n"); open.lineOpen = false; }
        write(`      ${ev.text}\n`);
      } else if (ev.type === "error") {
        close(ev.seconds);
        write(`  error at step ${ev.step}: ${ev.message}\n`);
      }
    },
    done(r) {
      close(r.seconds);
      write(finalLine(r));
    },
  };
}
