/**
 * Renderers for {@link BuildEvent}s, one per output mode of `prodserver build`:
 * - human: one line per step with elapsed seconds, `(cached)` for cache hits; step output only
 *   when `verbose` (failures print the failing step's output through the thrown BuildError);
 *   a step that runs for `heartbeatSeconds` with nothing printed gets a `still running` line;
 * - quiet (`--quiet`): nothing while building; `done` prints the final line;
 * - json (`--json`): one JSON object per line (JSON Lines), the event as-is, plus
 *   `{"type":"heartbeat",...}` after `heartbeatSeconds` without a line.
 */
import { stripVTControlCharacters } from "node:util";
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
  /** Stops the heartbeat timer; for a build that ended without `done` (it threw). Idempotent. */
  close(): void;
}

/**
 * One JSON Lines record: `JSON.stringify(value)` + newline, with terminal control sequences
 * (ANSI colours a build step printed) removed from every string.
 */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === "string" ? stripVTControlCharacters(v) : v))}\n`;
}

/** The step a heartbeat names. */
interface RunningStep {
  index: number;
  total: number;
  instruction: string;
  startedAt: number;
  lastOutput: string | null;
}

/**
 * Calls `beat(step, stepSeconds)` whenever `every` seconds pass with nothing written while a
 * step runs. Its timer is unreferenced (it never keeps the process alive) and stops on `stop()`.
 */
function heartbeat(every: number, beat: (step: RunningStep, stepSeconds: number) => void) {
  let lastWrite = performance.now();
  let step: RunningStep | null = null;
  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    const now = performance.now();
    if (!step || now - lastWrite < every * 1000) return;
    lastWrite = now;
    beat(step, (now - step.startedAt) / 1000);
  };
  return {
    wrote(): void {
      lastWrite = performance.now();
    },
    started(ev: BuildEvent & { type: "step" }): void {
      step = { index: ev.index, total: ev.total, instruction: ev.instruction, startedAt: performance.now(), lastOutput: null };
      if (!timer && every > 0) {
        timer = setInterval(tick, Math.min(1000, (every * 1000) / 4));
        timer.unref();
      }
    },
    output(text: string): void {
      if (step) step.lastOutput = text;
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = null;
      step = null;
    },
  };
}

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

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
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
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
 * @param opts.heartbeatSeconds silence (seconds) after which a running step is reported alive; default 10, 0 = never
 * @throws Error naming `mode` when it is not one of the three.
 */
export function createProgressRenderer(mode: ProgressMode, write: Write, opts: { verbose?: boolean; heartbeatSeconds?: number } = {}): ProgressRenderer {
  const every = opts.heartbeatSeconds ?? 10;
  if (mode === "json") {
    const beat = heartbeat(every, (st, stepSeconds) => write(jsonLine({ type: "heartbeat", step: st.index, total: st.total, instruction: st.instruction, stepSeconds, lastOutput: st.lastOutput })));
    const emit = (value: unknown): void => {
      beat.wrote();
      write(jsonLine(value));
    };
    return {
      onProgress(ev) {
        if (ev.type === "step") beat.started(ev);
        if (ev.type === "error") beat.stop();
        emit(ev);
      },
      done(r) {
        beat.stop();
        emit({ type: "done", ...r });
      },
      close: () => beat.stop(),
    };
  }
  if (mode === "quiet") return { onProgress: () => {}, done: (r) => write(finalLine(r)), close: () => {} };
  if (mode !== "human") throw new Error(`progress mode: ${JSON.stringify(mode)} is not one of human, quiet, json`);
  // A step's line is written when it starts and completed (elapsed or "(cached)") when the next
  // event of another step arrives, so a long RUN shows what is running.
  let open: { index: number; total: number; seconds: number; cached: boolean; lineOpen: boolean } | null = null;
  const beat = heartbeat(every, (st, stepSeconds) => {
    if (open?.lineOpen) {
      write("\n");
      open.lineOpen = false;
    }
    const last = st.lastOutput ? `; last output: ${clip(st.lastOutput, 100)}` : "";
    write(`      [${st.index}/${st.total}] still running after ${formatSeconds(stepSeconds)}${last}\n`);
  });
  const out: Write = (text) => {
    beat.wrote();
    write(text);
  };
  const close = (now: number): void => {
    if (!open) return;
    const result = open.cached ? "(cached)" : formatSeconds(Math.max(0, now - open.seconds));
    out(open.lineOpen ? `  ${result}\n` : `  [${open.index}/${open.total}] done ${result}\n`);
    open = null;
  };
  return {
    onProgress(ev) {
      if (ev.type === "step") {
        close(ev.seconds);
        out(`  [${ev.index}/${ev.total}] ${clip(ev.instruction, 90)}`);
        beat.started(ev);
        open = { index: ev.index, total: ev.total, seconds: ev.seconds, cached: false, lineOpen: true };
      } else if (ev.type === "layer" && ev.cached && open) {
        open.cached = true;
      } else if (ev.type === "output") {
        beat.output(ev.text);
        if (!opts.verbose) return;
        if (open?.lineOpen) {
          out("\n");
          open.lineOpen = false;
        }
        out(`      ${ev.text}\n`);
      } else if (ev.type === "error") {
        beat.stop();
        close(ev.seconds);
        out(`  error at step ${ev.step}: ${ev.message}\n`);
      }
    },
    done(r) {
      beat.stop();
      close(r.seconds);
      out(finalLine(r));
    },
    close: () => beat.stop(),
  };
}
