/**
 * Checks on a complete request head that node's parser lets through but that Gunicorn (22+) or
 * RFC 9112 refuse, applied before any request listener sees the request (harden.ts):
 *
 * | request | verdict | source |
 * |---|---|---|
 * | HTTP/0.9 (`GET /` with no version) | 400 | Gunicorn `InvalidRequestLine` |
 * | HTTP major version other than 1 (`GET / HTTP/2.0`) | 505 | RFC 9110 15.6.6 (Gunicorn: 400) |
 * | `Host` more than once | 400 | RFC 9112 3.2, Gunicorn `invalid/042` |
 * | a target that is not origin-form (`/x`), absolute-form (`http://h/x`) or `*` for OPTIONS | 400 | RFC 9112 3.2, Gunicorn `invalid/016` |
 * | `Transfer-Encoding` on HTTP/1.0 | 400 | RFC 9112 6.1, Gunicorn `invalid/chunked_05` |
 * | `identity` among the transfer codings (`identity, chunked`) | 400 | RFC 9112 6.1 (no such coding) |
 * | `X-Forwarded-Proto`, `X-Forwarded-Ssl`, `X-Forwarded-Protocol` disagreeing about https, from a trusted peer | 400 | Gunicorn `secure_scheme_headers`, `InvalidSchemeHeaders` |
 *
 * What node's parser (llhttp, strict) already refuses with 400 stays with it: bad methods,
 * versions and field names, obsolete line folding, bare CR/LF, `Content-Length` with
 * `Transfer-Encoding`, duplicate or malformed `Content-Length`, bad chunk sizes, a missing
 * `Host` on HTTP/1.1.
 */
import type { IncomingMessage } from "node:http";
import type { Verdict } from "./head-scan.js";

/** Gunicorn's `secure_scheme_headers`: header -> the value that means https. */
const SECURE_SCHEME: Record<string, string> = { "x-forwarded-protocol": "ssl", "x-forwarded-proto": "https", "x-forwarded-ssl": "on" };

const bad = (reason: string): Verdict => ({ status: 400, reason });

/**
 * The verdict on a complete request head, or null when it may go on to the app.
 * `trusted()`: whether the peer is in `forwarded_allow_ips` (its scheme headers are then checked;
 * an untrusted peer's are removed by request-guard.ts instead); asked only when there are some.
 */
export function checkRequest(req: IncomingMessage, trusted: () => boolean): Verdict | null {
  if (req.httpVersionMajor === 0) return bad("HTTP/0.9 request");
  if (req.httpVersionMajor !== 1) return { status: 505, reason: `HTTP version ${req.httpVersion} not supported` };
  const target = checkTarget(req.method ?? "", req.url ?? "");
  if (target) return target;
  const raw = req.rawHeaders;
  let hosts = 0;
  let scheme: boolean | undefined;
  let peerTrusted: boolean | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const len = raw[i].length;
    if (len !== 4 && len !== 15 && len !== 17 && len !== 20) continue; // host, x-forwarded-ssl, transfer-encoding / x-forwarded-proto, x-forwarded-protocol
    const name = raw[i].toLowerCase();
    if (name === "host" && ++hosts > 1) return bad("more than one Host header");
    if (name === "transfer-encoding") {
      const te = checkTransferEncoding(raw[i + 1], req.httpVersionMinor);
      if (te) return te;
    }
    if (name in SECURE_SCHEME && (peerTrusted ??= trusted())) {
      const https = raw[i + 1] === SECURE_SCHEME[name];
      if (scheme !== undefined && scheme !== https) return bad("conflicting scheme headers (X-Forwarded-Proto / -Ssl / -Protocol)");
      scheme = https;
    }
  }
  return null;
}

/** RFC 9112 3.2: origin-form, absolute-form, `*` only for OPTIONS (authority-form is CONNECT's, handled apart). */
function checkTarget(method: string, url: string): Verdict | null {
  if (url.startsWith("/")) return null;
  if (url === "*") return method === "OPTIONS" ? null : bad("asterisk-form target outside OPTIONS");
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]/i.test(url) && URL.canParse(url)) return null;
  return bad(`malformed request target ${JSON.stringify(url.slice(0, 64))}`);
}

function checkTransferEncoding(value: string, minor: number): Verdict | null {
  if (minor === 0) return bad("Transfer-Encoding on HTTP/1.0");
  const codings = value.split(",").map((c) => c.trim().toLowerCase());
  if (codings.includes("identity")) return bad(`transfer coding "identity" (Transfer-Encoding: ${value})`);
  return null;
}
