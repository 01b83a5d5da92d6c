/**
 * The CLI's exit codes, one per kind of outcome, so a script can tell them apart
 * (`prodserver check`, `generate --check`, `build`, `init` / `create-prodserver`).
 * `prodserver serve` is the runtime and keeps Gunicorn's codes (0 stopped, 1 bad configuration,
 * 3 a worker failed to boot, 4 the app failed to load); the CLI's own codes start at 10 so the
 * two sets never overlap. The README's "Exit codes" table lists the same values.
 */
export const EXIT = {
  /** Everything asked for was done. */
  ok: 0,
  /** An unexpected internal error (a bug: the message carries the stack). */
  internal: 1,
  /** Bad command line: unknown command or flag, missing or invalid argument. */
  usage: 2,
  /** The project description is missing, cannot load, or is invalid (the message names the field). */
  invalidDescription: 10,
  /** Drift: a generated file is stale (regenerating would change it). */
  driftStale: 11,
  /** Drift: a generated file was edited by hand since it was generated (kept; the diff is printed). */
  driftEdited: 12,
  /** The Docker Engine cannot be reached. */
  engineUnreachable: 13,
  /** The image build failed. */
  buildFailed: 14,
  /** The image built but its smoke test failed. */
  smokeFailed: 15,
  /** `init` / `create-prodserver`: the app could not be made to serve with what was detected. */
  appNotServable: 16,
} as const;

/** One of the values of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
