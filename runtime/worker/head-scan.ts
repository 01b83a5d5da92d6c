/**
 * Gunicorn's request limits applied while a request head is still arriving, counted as Gunicorn
 * counts them (`gunicorn/http/message.py`): the request line without its CRLF against
 * `limit_request_line` (-> 414), each header line with its CRLF against `limit_request_field_size`
 * (-> 431), the number of header lines against `limit_request_fields` (-> 431). An HTTP/0.9
 * request line (`GET /`, no version) is refused at once (-> 400) instead of waiting for headers.
 *
 * Only heads that do not arrive in one read are scanned (header-budget.ts); the complete head is
 * checked again by request-guard.ts, so this scan may under-count (it starts at the first chunk
 * after the last request; a head that began in that chunk is seen from its middle) but never
 * over-counts.
 */
import type { Settings } from "../settings.js";
import { limits } from "./request-guard.js";

/** A refusal: the status to answer and why (logged, and the metrics' `reason` label). */
export interface Verdict {
  status: 400 | 408 | 413 | 414 | 431 | 501 | 505;
  reason: string;
}

/** The limits the scanner enforces, from the settings (0 = Gunicorn's maximum, as request-guard.ts). */
export interface HeadLimits {
  line: number;
  fields: number;
  fieldSize: number;
  /** Bytes of a whole head: Gunicorn's request line + CRLF + `max_buffer_headers`. */
  total: number;
}

/** The head limits for `settings` (Gunicorn: `max_buffer_headers = fields * (field_size + 2) + 4`). */
export function headLimits(s: Settings): HeadLimits {
  const l = limits(s);
  return { ...l, total: l.line + 2 + l.fields * (l.fieldSize + 2) + 4 };
}

const LF = 10;
const CR = 13;
const SP = 32;

/** Scans one unfinished request head, chunk by chunk. */
export class HeadScan {
  /** Bytes of the current, unfinished line (LF not included). */
  private line = 0;
  /** Whether the current line's last byte so far is a CR. */
  private lastCr = false;
  /** Header lines completed so far; -1 while still in the request line. */
  private fields: number;
  /** Spaces in the request line so far (HTTP/0.9's `GET /path` has one, HTTP/1.x's two). */
  private spaces = 0;
  private done = false;

  /**
   * @param certain true when the first byte fed is the head's first byte (the connection's first
   *   request): only then is the first line the request line (414, HTTP/0.9); otherwise every
   *   line is treated as a header line.
   */
  constructor(
    private readonly limits: HeadLimits,
    certain: boolean,
  ) {
    this.fields = certain ? -1 : 0;
  }

  /** Feed the next chunk; returns a verdict when the head breaks a limit, else null. */
  feed(chunk: Buffer): Verdict | null {
    let pos = 0;
    while (!this.done && pos < chunk.length) {
      const nl = chunk.indexOf(LF, pos);
      const end = nl < 0 ? chunk.length : nl;
      if (end > pos) {
        if (this.fields < 0) for (let i = chunk.indexOf(SP, pos); i >= 0 && i < end; i = chunk.indexOf(SP, i + 1)) this.spaces++;
        this.line += end - pos;
        this.lastCr = chunk[end - 1] === CR;
      }
      const v = nl < 0 ? this.partial() : this.complete();
      if (v || nl < 0) return v;
      pos = nl + 1;
      this.line = 0;
      this.lastCr = false;
    }
    return null;
  }

  /** Bytes of the current line without a trailing CR. */
  private get content(): number {
    return this.line - (this.lastCr ? 1 : 0);
  }

  /** The current line is still arriving: refuse as soon as it cannot fit any more. */
  private partial(): Verdict | null {
    if (this.fields < 0) return this.content > this.limits.line ? tooLongLine(this.limits.line) : null;
    return this.content + 2 > this.limits.fieldSize ? tooLargeField(this.limits.fieldSize) : null;
  }

  /** The current line ended (its LF arrived). */
  private complete(): Verdict | null {
    if (this.fields < 0) {
      if (this.content === 0) return null; // empty lines before the request line are ignored (RFC 9112 2.2)
      if (this.content > this.limits.line) return tooLongLine(this.limits.line);
      this.fields = 0;
      return this.spaces < 2 ? { status: 400, reason: "HTTP/0.9 request line (no HTTP version)" } : null;
    }
    if (this.content === 0) {
      this.done = true; // the empty line: the head is complete
      return null;
    }
    if (this.content + 2 > this.limits.fieldSize) return tooLargeField(this.limits.fieldSize);
    if (++this.fields > this.limits.fields) return { status: 431, reason: `too many header fields (more than ${this.limits.fields})` };
    return null;
  }
}

const tooLongLine = (limit: number): Verdict => ({ status: 414, reason: `request line too long (more than ${limit} bytes)` });
const tooLargeField = (limit: number): Verdict => ({ status: 431, reason: `header field too large (more than ${limit} bytes with its CRLF)` });
