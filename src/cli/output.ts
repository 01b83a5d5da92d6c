/**
 * What the CLI commands share: error classes carrying their exit code (./errors.ts maps every
 * other error class to one), and {@link Output}, the one sink for what a command prints: human
 * text (terminal control sequences removed unless the stream takes colour), one line
 * (`--quiet`), or JSON Lines (`--json`). Light on purpose: `prodserver serve` loads it too.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters, styleText } from "node:util";
import { jsonLine } from "../docker/progress.js";
import { EXIT, type ExitCode } from "./exit-codes.js";

/** An error meant for the user: printed as `prodserver: <message>` (and `hint: <hint>`) without a stack. */
export class CliError extends Error {
  /**
   * @param exitCode one of {@link EXIT}
   * @param opts.hint what to do about it, printed on its own line (JSON: `hint`)
   * @param opts.details extra fields for the JSON `error` record (e.g. the failing build step)
   */
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly opts: { hint?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A bad command line (unknown command or flag, bad argument): exit 2, as getopt-style tools. */
export class UsageError extends CliError {
  constructor(message: string, hint = "run `prodserver --help` for the commands, `prodserver <command> --help` for a command's options") {
    super(message, EXIT.usage, { hint });
    this.name = "UsageError";
  }
}

/** An error turned into what the CLI prints and exits with. */
export interface Failure {
  exitCode: ExitCode;
  message: string;
  hint?: string;
  /** Extra fields of the JSON `error` record. */
  details: Record<string, unknown>;
  /** Only for internal errors (bugs): the stack, printed in full. */
  stack?: string;
}

/**
 * Maps any thrown value to a {@link Failure}: CliError by its code, the user errors of the layers
 * below by class (./errors.ts, loaded only now), anything else is internal (exit 1, with the stack).
 */
export async function failureOf(err: unknown): Promise<Failure> {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message, hint: err.opts.hint, details: err.opts.details ?? {} };
  const { userFailure } = await import("./errors.js");
  const known = userFailure(err);
  if (known) return known;
  const e = err instanceof Error ? err : new Error(String(err));
  return { exitCode: EXIT.internal, message: e.message, details: {}, stack: e.stack ?? String(err) };
}

/** The name of an exit code in {@link EXIT} (`invalidDescription`), the JSON records' `kind`. */
export function exitKind(code: number): string {
  return Object.entries(EXIT).find(([, v]) => v === code)?.[0] ?? "internal";
}

/** A stream as far as colour is concerned (a tty.WriteStream has both members). */
interface ColourTarget {
  isTTY?: boolean;
  hasColors?(env?: object): boolean;
}

/**
 * Whether to write colour to `stream`: `FORCE_COLOR` (set, and not `0`/`false`) forces it on, a
 * non-empty `NO_COLOR` (no-color.org) turns it off, otherwise only a terminal that reports colours
 * (`tty.WriteStream#hasColors`, which honours `TERM=dumb`). Node's own precedence, FORCE_COLOR first.
 */
export function colourEnabled(stream: ColourTarget, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  if (env.NO_COLOR) return false;
  return Boolean(stream.isTTY) && (stream.hasColors?.(env) ?? false);
}

/** How a command prints: `human` (default), `quiet` (one line), `json` (JSON Lines on stdout). */
export type OutputMode = "human" | "quiet" | "json";

/** The styles {@link Output.style} applies. */
export type Style = "green" | "red" | "yellow" | "dim" | "bold";

/** A writable text stream (process.stdout / process.stderr). */
type Sink = ColourTarget & { write(text: string): unknown };

/**
 * The sink for one command's output. Human text goes through {@link say} (stdout, human mode
 * only), {@link line} (stdout, human and quiet: the one line `--quiet` prints) and {@link warn}
 * (stderr, human mode); JSON records through {@link event} (json mode only). Text is stripped of
 * terminal control sequences on a stream that does not take colour (a file, a pipe, NO_COLOR),
 * whatever wrote them (our styles, a build step's npm, an app's log lines).
 */
export class Output {
  /** Whether stdout takes colour. */
  readonly colour: boolean;
  private readonly errColour: boolean;

  constructor(
    readonly mode: OutputMode,
    private readonly out: Sink = process.stdout,
    private readonly err: Sink = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.colour = colourEnabled(out, env);
    this.errColour = colourEnabled(err, env);
  }

  get json(): boolean {
    return this.mode === "json";
  }

  /** Progress and detail for people: stdout, human mode only. */
  say(text: string): void {
    if (this.mode === "human") this.out.write(this.colour ? text : stripVTControlCharacters(text));
  }

  /** The outcome line: stdout in human and quiet modes (what `--quiet` prints, once). */
  line(text: string): void {
    if (this.mode !== "json") this.out.write(this.colour ? text : stripVTControlCharacters(text));
  }

  /** Warnings and conflicts for people: stderr, human mode only. */
  warn(text: string): void {
    if (this.mode === "human") this.err.write(this.errColour ? text : stripVTControlCharacters(text));
  }

  /**
   * The sink for the build progress renderer (src/docker/progress.ts) in this mode: human text
   * through {@link say}, its JSON Lines as they are, nothing when quiet (the caller prints the line).
   */
  progressSink(): (text: string) => void {
    if (this.mode === "json") return (text) => this.out.write(text);
    return (text) => this.say(text);
  }

  /** One JSON record `{ type, ...fields }` on stdout, json mode only. */
  event(type: string, fields: Record<string, unknown> = {}): void {
    if (this.mode === "json") this.out.write(jsonLine({ type, ...fields }));
  }

  /** `text` styled for stdout when it takes colour, else unchanged. */
  style(style: Style, text: string): string {
    return this.colour ? styleText(style, text) : text;
  }

  /**
   * Prints a failure: json → an `error` record (`kind`, `exitCode`, `message`, `hint`, details);
   * quiet → one line on stderr; human → `prodserver: <message>`, `hint: <hint>` (stderr), or the
   * whole stack for an internal error.
   */
  failure(f: Failure): void {
    if (this.mode === "json") {
      this.event("error", { kind: exitKind(f.exitCode), exitCode: f.exitCode, message: f.message, ...(f.hint ? { hint: f.hint } : {}), ...f.details, ...(f.stack ? { stack: f.stack } : {}) });
      return;
    }
    const text =
      this.mode === "quiet"
        ? `prodserver: ${f.message.split("\n")[0]}${f.hint ? ` (hint: ${f.hint})` : ""}\n`
        : f.stack && f.exitCode === EXIT.internal
          ? `${f.stack}\n`
          : `prodserver: ${f.message}\n${f.hint ? `hint: ${f.hint}\n` : ""}`;
    this.err.write(this.errColour ? text : stripVTControlCharacters(text));
  }
}

/**
 * Runs one command with its output: prints a thrown error as {@link Output.failure}, and in json
 * mode ends with the `{"type":"result","command":...,"ok":...,"exitCode":...,"kind":...}` record.
 * @returns the exit code (never throws)
 */
export async function runCommand(command: string, out: Output, fn: () => Promise<number>): Promise<number> {
  let code: number;
  try {
    code = await fn();
  } catch (err) {
    const f = await failureOf(err);
    out.failure(f);
    code = f.exitCode;
  }
  out.event("result", { command, ok: code === 0, exitCode: code, kind: exitKind(code) });
  return code;
}

/** True when the module at `url` is the script node was started with (also through npm's bin symlinks). */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}
