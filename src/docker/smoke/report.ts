/** The smoke report for humans. */
import type { SmokeReport } from "./types.js";
import { formatBytes, formatSeconds } from "../progress.js";

/** Colours a piece of the report (the CLI passes one on a colour terminal); `pass`/`fail` marks and result words, `dim` informational ones. */
export type ReportStyle = (kind: "pass" | "fail" | "dim", text: string) => string;

/**
 * Formats a report for humans: a header with image ref, id, size and build time, one line per
 * check (`ok`/`FAIL`/`--`, name, ms, detail), a result line (`PASS: n/m checks passed in 3.4s`
 * or `FAIL: ...`), and on failure the last 40 lines of the container's stderr and stdout.
 * @param style colours the marks and the result word; default none
 */
export function formatReport(r: SmokeReport, style: ReportStyle = (_k, t) => t): string {
  const lines: string[] = [];
  const id = r.image.id.replace(/^sha256:/, "").slice(0, 12);
  const built = r.image.buildSeconds === null ? "" : `, built in ${formatSeconds(r.image.buildSeconds)}`;
  lines.push(`smoke test of ${r.image.ref} (${id}, ${formatBytes(r.image.sizeBytes)}${built})`);
  for (const c of r.checks) {
    const mark = c.ok ? style("pass", "  ok  ") : c.informational ? style("dim", "  --  ") : style("fail", "  FAIL");
    lines.push(`${mark} ${c.name.padEnd(14)} ${String(c.ms).padStart(6)} ms  ${c.detail}`);
  }
  lines.push(resultLine(r).replace(/^\w+/, (word) => style(r.ok ? "pass" : "fail", word)));
  if (!r.ok && r.logs) {
    const tail = (s: string): string[] => s.trimEnd().split("\n").filter(Boolean).slice(-40);
    const err = tail(r.logs.stderr);
    const out = tail(r.logs.stdout);
    if (err.length) lines.push("--- container stderr (last 40 lines) ---", ...err);
    if (out.length) lines.push("--- container stdout (last 40 lines) ---", ...out);
  }
  return `${lines.join("\n")}\n`;
}

/** The report's result line, `PASS: 12/12 checks passed in 3.4s` or `FAIL: 9/12 checks passed in 5.0s`. */
export function resultLine(r: SmokeReport): string {
  const failed = r.checks.filter((c) => !c.ok && !c.informational).length;
  return `${r.ok ? "PASS" : "FAIL"}: ${r.checks.length - failed}/${r.checks.length} checks passed in ${formatSeconds(r.seconds)}`;
}
