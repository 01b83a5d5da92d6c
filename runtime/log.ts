/**
 * Error log and log-file plumbing shared by the arbiter and the workers.
 *
 * Text lines look like Gunicorn's: `[2026-11-21 05:26:19 +0000] [1234] [INFO] message`;
 * with `log_format: json` each line is one JSON object `{time, level, pid, role, message, msg, ...extra}`
 * (`time` ISO 8601 UTC; `msg` = `message`, kept for existing consumers).
 * Writes are synchronous (`fs.writeSync`) so a line is never lost when the process exits right
 * after logging, and each line is one write(2) (lines from several processes do not interleave
 * inside a line as long as a line stays below PIPE_BUF on pipes; files use O_APPEND).
 */
import fs from "node:fs";

/** Log levels in increasing severity, as Gunicorn's `loglevel`. */
export const LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
/** One of {@link LEVELS}. */
export type Level = (typeof LEVELS)[number];

/**
 * A log destination: `-` means the given standard fd (1 stdout, 2 stderr); anything else is a
 * file path opened for append. `reopen()` closes and reopens the file (USR1, after logrotate).
 */
/** A write(2) on a pipe is atomic up to PIPE_BUF = 4096 bytes (Linux); 1365 UTF-16 units are at most 4095 UTF-8 bytes. */
const CHUNK = 1365;

export class LogFile {
  private fd: number;
  private readonly owned: boolean;

  /** @throws Error naming `setting` when the file cannot be opened. */
  constructor(
    readonly target: string,
    stdFd: 1 | 2,
    private readonly setting: string,
    /**
     * Batch lines written in one event-loop turn into one write(2) (the access log: a write per
     * request was 14 % of a worker's CPU in --cpu-prof at 47k req/s). Pending lines are written
     * before the next turn, on reopen/close, and at process exit; a SIGKILL loses at most the
     * current turn's lines.
     */
    private readonly batched = false,
  ) {
    this.owned = target !== "-";
    this.fd = this.owned ? LogFile.open(target, setting) : stdFd;
    if (batched) process.once("exit", () => this.flush());
  }

  private pending = "";
  private scheduled = false;

  private static open(file: string, setting: string): number {
    try {
      return fs.openSync(file, "a", 0o644);
    } catch (e) {
      throw new Error(`${setting}: cannot open ${file}: ${(e as Error).message}`);
    }
  }

  /** Write one line (a newline is appended). Errors (EPIPE, ENOSPC) are swallowed: logging never crashes a worker. */
  write(line: string): void {
    if (this.batched) {
      this.pending += line + "\n";
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
      return;
    }
    this.writeNow(line + "\n");
  }

  /** Write the batched lines now (no-op when none are pending). */
  flush(): void {
    this.scheduled = false;
    if (!this.pending) return;
    let text = this.pending;
    this.pending = "";
    // Writes of at most PIPE_BUF bytes, cut at line ends, stay atomic on a pipe that several
    // workers share (docker logs, journald): lines from two processes never interleave.
    while (text.length > CHUNK) {
      const cut = text.lastIndexOf("\n", CHUNK - 1);
      const end = cut >= 0 ? cut + 1 : text.indexOf("\n") + 1 || text.length;
      this.writeNow(text.slice(0, end));
      text = text.slice(end);
    }
    this.writeNow(text);
  }

  private writeNow(text: string): void {
    try {
      fs.writeSync(this.fd, text);
    } catch {
      /* a closed stdout/stderr or a full disk must not take the server down */
    }
  }

  /** Reopen the file (no-op for `-`); as Gunicorn's `reopen_files` on USR1. */
  reopen(): void {
    this.flush();
    if (!this.owned) return;
    const next = LogFile.open(this.target, this.setting);
    const old = this.fd;
    this.fd = next;
    try {
      fs.closeSync(old);
    } catch {
      /* already closed */
    }
  }

  close(): void {
    this.flush();
    if (this.owned) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* ignore */
      }
    }
  }
}

/** Format a Date as Gunicorn's error-log time, `2026-11-21 05:26:19 +0000` (local time with offset). */
export function logTime(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const oa = Math.abs(off);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(oa / 60))}${p(oa % 60)}`;
}

/** The error logger: level filtering, text or JSON lines, one destination. */
export class Logger {
  private readonly min: number;

  constructor(
    readonly file: LogFile,
    level: Level,
    readonly format: "text" | "json",
    readonly role: "arbiter" | "worker" | "cli" = "arbiter",
  ) {
    this.min = LEVELS.indexOf(level);
  }

  /** Log `msg` at `level`; `extra` fields go into JSON lines (and after the message in text, for `stack`). */
  log(level: Level, msg: string, extra: Record<string, unknown> = {}): void {
    if (LEVELS.indexOf(level) < this.min) return;
    this.emit(level, msg, extra);
  }

  /** Write one line at `level` whatever `loglevel` says (captured app output is never filtered). */
  emit(level: Level, msg: string, extra: Record<string, unknown> = {}): void {
    if (this.format === "json") {
      // `message` is the common key (ECS, pino's messageKey, Loki); `msg` stays for existing consumers.
      this.file.write(JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, role: this.role, message: msg, msg, ...extra }));
      return;
    }
    const stack = typeof extra.stack === "string" ? `\n${extra.stack}` : "";
    this.file.write(`[${logTime()}] [${process.pid}] [${level.toUpperCase()}] ${msg}${stack}`);
  }

  debug(msg: string, extra?: Record<string, unknown>): void {
    this.log("debug", msg, extra);
  }
  info(msg: string, extra?: Record<string, unknown>): void {
    this.log("info", msg, extra);
  }
  warning(msg: string, extra?: Record<string, unknown>): void {
    this.log("warning", msg, extra);
  }
  error(msg: string, extra?: Record<string, unknown>): void {
    this.log("error", msg, extra);
  }
  critical(msg: string, extra?: Record<string, unknown>): void {
    this.log("critical", msg, extra);
  }
}

/**
 * Gunicorn's `capture_output` for a worker: from now on everything written to `process.stdout`
 * (console.log) and `process.stderr` (console.error) goes to the error log instead, one log line
 * per output line, in the log's format (text or json), at level `info` (stdout) or `error`
 * (stderr), whatever `loglevel` is. A partial last line is written when the process exits.
 * JSON lines carry `stream: "stdout" | "stderr"`.
 */
export function captureOutput(log: Logger): void {
  for (const [stream, name, level] of [
    [process.stdout, "stdout", "info"],
    [process.stderr, "stderr", "error"],
  ] as const) {
    let partial = "";
    const flush = (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) log.emit(level, l, { stream: name });
    };
    stream.write = ((chunk: unknown, enc?: unknown, cb?: unknown) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof enc === "string" ? (enc as BufferEncoding) : "utf8");
      flush(text);
      const done = typeof enc === "function" ? enc : cb;
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    }) as typeof stream.write;
    process.once("exit", () => partial && flush("\n"));
  }
}
