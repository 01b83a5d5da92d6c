/**
 * The access log, Gunicorn's `access_log_format` atoms (`gunicorn/glogging.py: Logger.atoms`):
 *
 * `h` remote address · `l` `-` · `u` Basic-auth user · `t` `[21/Nov/2026:05:26:19 +0000]` ·
 * `r` request line · `m` method · `U` path without query · `q` query string · `H` protocol ·
 * `s` status · `B` body bytes · `b` body bytes or `-` when 0 · `f` Referer · `a` User-Agent ·
 * `T` seconds (integer) · `M` milliseconds (integer) · `D` microseconds · `L` seconds with six
 * decimals · `p` `<pid>` · `{name}i` request header · `{name}o` response header.
 * Unknown or missing atoms render `-` (Gunicorn's `{name}e` environ atoms always render `-`).
 *
 * Unlike Gunicorn, values are escaped: control characters become `\xNN`, and `"` and `\` are
 * backslash-escaped, so a header cannot forge a log line or break a quoted field.
 * With `log_format: json` a line is one JSON object (see {@link accessJson}).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** What is known about one finished (or aborted) request. */
export interface AccessRecord {
  req: IncomingMessage;
  res: ServerResponse;
  /** Wall-clock start, ms since epoch. */
  start: number;
  /** Duration in nanoseconds. */
  durationNs: bigint;
  /** Response body bytes written by the app. */
  bytes: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `[21/Nov/2026:05:26:19 +0000]`, local time as Gunicorn's `%(t)s`. */
export function clfTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec === clfCache.sec) return clfCache.text;
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const oa = Math.abs(off);
  const text = `[${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${off >= 0 ? "+" : "-"}${p(Math.floor(oa / 60))}${p(oa % 60)}]`;
  clfCache.sec = sec;
  clfCache.text = text;
  return text;
}
// The timestamp changes once a second: a worker at 30k req/s formats it once, not 30k times.
const clfCache = { sec: NaN, text: "" };

/** Escape a value for a text log line: control chars -> `\xNN`, `"` -> `\"`, `\` -> `\\`. */
export function escapeLog(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\x00-\x1f\x7f"\\]/g, (c) => (c === '"' ? '\\"' : c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

const NEEDS_ESCAPE = /[\x00-\x1f\x7f"\\]/;

function header(v: string | string[] | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(", ") : String(v);
}

function basicUser(auth: string | undefined): string | undefined {
  if (!auth || !/^basic /i.test(auth)) return undefined;
  try {
    const dec = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
    const i = dec.indexOf(":");
    return i >= 0 ? dec.slice(0, i) : undefined;
  } catch {
    return undefined;
  }
}

/** Compute the value of every simple atom (missing ones undefined). */
export function atoms(r: AccessRecord): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, get] of Object.entries(ATOMS)) out[k] = get(r);
  return out;
}

const path = (r: AccessRecord) => r.req.url ?? "";
const proto = (r: AccessRecord) => `HTTP/${r.req.httpVersion}`;
const micros = (r: AccessRecord) => r.durationNs / 1000n;

/** One getter per atom, so a compiled format computes only the atoms it uses. */
const ATOMS: Record<string, (r: AccessRecord) => string | undefined> = {
  h: (r) => r.req.socket?.remoteAddress,
  l: () => "-",
  u: (r) => basicUser(r.req.headers.authorization),
  t: (r) => clfTime(r.start),
  r: (r) => `${r.req.method} ${path(r)} ${proto(r)}`,
  m: (r) => r.req.method,
  U: (r) => {
    const url = path(r);
    const qi = url.indexOf("?");
    return qi >= 0 ? url.slice(0, qi) : url;
  },
  q: (r) => {
    const url = path(r);
    const qi = url.indexOf("?");
    return qi >= 0 ? url.slice(qi + 1) : "";
  },
  H: proto,
  s: (r) => String(r.res.statusCode),
  B: (r) => String(r.bytes),
  b: (r) => (r.bytes > 0 ? String(r.bytes) : "-"),
  f: (r) => header(r.req.headers.referer),
  a: (r) => header(r.req.headers["user-agent"]),
  T: (r) => String(micros(r) / 1_000_000n),
  M: (r) => String(micros(r) / 1000n),
  D: (r) => String(micros(r)),
  L: (r) => {
    const us = micros(r);
    return `${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, "0")}`;
  },
  p: () => `<${process.pid}>`,
};

/**
 * Compile `access_log_format` once into a line formatter: the format string is parsed once, and
 * per request only the atoms it uses are computed (the worker calls this at boot; before, every
 * request parsed the format and computed all 19 atoms: 14 % of a worker's CPU in --cpu-prof).
 */
export function compileAccess(format: string): (r: AccessRecord) => string {
  const parts: Array<string | ((r: AccessRecord) => string)> = [];
  let last = 0;
  for (const m of format.matchAll(/%%|%\(([^)]+)\)s/g)) {
    parts.push(format.slice(last, m.index));
    last = m.index! + m[0].length;
    const name = m[1];
    if (name === undefined) {
      parts.push("%");
      continue;
    }
    const hdr = /^\{([^}]+)\}([io])$/.exec(name);
    const key = hdr?.[1].toLowerCase();
    const get: (r: AccessRecord) => string | undefined = hdr
      ? hdr[2] === "i"
        ? (r) => header(r.req.headers[key!])
        : (r) => header(r.res.getHeader(key!))
      : Object.hasOwn(ATOMS, name)
        ? ATOMS[name]
        : () => undefined;
    const empty = name === "q" ? "" : "-";
    parts.push((r) => {
      const v = get(r);
      return v === undefined || v === "" ? empty : escapeLog(v);
    });
  }
  parts.push(format.slice(last));
  return (r) => {
    let out = "";
    for (const p of parts) out += typeof p === "string" ? p : p(r);
    return out;
  };
}

/**
 * One JSON access-log object: `{time, remote_addr, user, method, path, query, protocol, status,
 * bytes, duration_s, referer, user_agent, pid}` (`time` ISO 8601; `duration_s` seconds, float).
 */
export function accessJson(r: AccessRecord): string {
  const a = atoms(r);
  return JSON.stringify({
    time: new Date(r.start).toISOString(),
    remote_addr: a.h ?? null,
    user: a.u ?? null,
    method: a.m,
    path: a.U,
    query: a.q,
    protocol: a.H,
    status: r.res.statusCode,
    bytes: r.bytes,
    duration_s: Number(r.durationNs / 1000n) / 1e6,
    referer: a.f ?? null,
    user_agent: a.a ?? null,
    pid: process.pid,
  });
}

/**
 * Count the body bytes an app writes, by wrapping `res.write`/`res.end` (Gunicorn's
 * `resp.sent`). Returns a getter for the running total.
 */
export function countBytes(res: ServerResponse): () => number {
  let n = 0;
  const size = (chunk: unknown, enc: unknown) =>
    typeof chunk === "string" ? Buffer.byteLength(chunk, typeof enc === "string" ? (enc as BufferEncoding) : "utf8") : chunk instanceof Uint8Array ? chunk.byteLength : 0;
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    n += size(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (chunk !== undefined && typeof chunk !== "function") n += size(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  return () => (res.req?.method === "HEAD" ? 0 : n);
}
