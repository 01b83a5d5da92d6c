/**
 * Checks a worker applies to every request before the health endpoints and the app:
 * Gunicorn's request limits and `forwarded_allow_ips`.
 *
 * - `limit_request_line` (bytes of `METHOD URI HTTP/x.y`): over -> **414 URI Too Long**
 *   (Gunicorn answers 400; 414 says what is wrong and is what nginx answers).
 * - `limit_request_fields` (count) and `limit_request_field_size` (bytes of `name: value` and
 *   its CRLF, as Gunicorn counts a header line): over -> **431 Request Header Fields Too Large**,
 *   as Gunicorn >= 21. Heads that arrive in more than one read are also checked while they arrive
 *   (head-scan.ts), and node's parser answers 431 when the whole block exceeds {@link maxHeaderSize}.
 * - `forwarded_allow_ips`: from an untrusted peer, `X-Forwarded-*` and `Forwarded` are removed
 *   before the app sees them, so an app that trusts its proxy cannot be spoofed by a direct client.
 */
import net from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ipFamily } from "../setting-kinds.js";
import type { Settings } from "../settings.js";

/** Effective limits (0 means Gunicorn's maximum). */
export function limits(s: Settings): { line: number; fields: number; fieldSize: number } {
  return {
    line: s.limit_request_line || 8190,
    fields: s.limit_request_fields || 32768,
    fieldSize: s.limit_request_field_size || 8190,
  };
}

/** Node's `maxHeaderSize` for the server: room for the request line and every allowed field. */
export function maxHeaderSize(s: Settings): number {
  const l = limits(s);
  return l.line + l.fields * (l.fieldSize + 4) + 4;
}

const FORWARD_HEADERS = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-protocol", "x-forwarded-ssl", "x-forwarded-port", "forwarded"];

/** Build the trust test for `forwarded_allow_ips` (`*`, IPs, CIDRs; IPv4-mapped IPv6 peers match IPv4 entries). */
export function trustedPeer(list: string): (addr: string | undefined) => boolean {
  const items = list
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  if (items.includes("*")) return () => true;
  const bl = new net.BlockList();
  for (const it of items) {
    const [addr, bits] = it.split("/");
    const type = ipFamily(addr) === 6 ? "ipv6" : "ipv4";
    if (bits !== undefined) bl.addSubnet(addr, Number(bits), type);
    else bl.addAddress(addr, type);
  }
  return (addr) => {
    if (addr === undefined) return true; // unix socket peer
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
    if (v4) return bl.check(v4[1], "ipv4");
    return bl.check(addr, addr.includes(":") ? "ipv6" : "ipv4");
  };
}

/** Answer `res` with `status` and a plain-text `text`, and close the connection after it. */
export function reject(res: ServerResponse, status: number, text: string): true {
  res.shouldKeepAlive = false;
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(text)), connection: "close" });
  res.end(text);
  return true;
}

/**
 * Make the request guard for a worker. The returned function answers (and returns true) when the
 * request breaks a limit; otherwise it strips untrusted forwarding headers and returns false.
 */
export function requestGuard(s: Settings): (req: IncomingMessage, res: ServerResponse) => boolean {
  const l = limits(s);
  const trusted = trustedPeer(s.forwarded_allow_ips);
  return (req, res) => {
    const lineLen = (req.method?.length ?? 0) + 1 + (req.url?.length ?? 0) + 1 + 8;
    if (lineLen > l.line) return reject(res, 414, `Request Line is too large (${lineLen} > ${l.line})\n`);
    const raw = req.rawHeaders;
    if (raw.length / 2 > l.fields) return reject(res, 431, `Too many request header fields (more than ${l.fields})\n`);
    for (let i = 0; i < raw.length; i += 2) {
      const size = raw[i].length + 2 + raw[i + 1].length + 2; // "name: value\r\n"
      if (size > l.fieldSize) return reject(res, 431, `Request header field ${JSON.stringify(raw[i])} is too large (${size} > ${l.fieldSize})\n`);
    }
    // The header test first: most requests carry none, and the peer test costs a BlockList lookup.
    if (raw.some((v, i) => i % 2 === 0 && FORWARD_HEADERS.includes(v.toLowerCase())) && !trusted(req.socket.remoteAddress)) {
      const kept: string[] = [];
      for (let i = 0; i < raw.length; i += 2) if (!FORWARD_HEADERS.includes(raw[i].toLowerCase())) kept.push(raw[i], raw[i + 1]);
      // Node >= 25 builds `headers`/`headersDistinct` lazily from rawHeaders and the count its
      // parser saw: build both from the original first, then drop the fields from each.
      const { headers, headersDistinct } = req;
      for (const h of FORWARD_HEADERS) {
        delete headers[h];
        delete headersDistinct[h];
      }
      req.rawHeaders = kept;
    }
    return false;
  };
}
