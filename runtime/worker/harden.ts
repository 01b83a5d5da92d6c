/**
 * Protocol and header-memory protections for any `node:http` / `node:https` server a worker
 * serves: the handler-mode servers (http-server.ts) and an app's own server in listen mode.
 * {@link harden} attaches to a server; {@link hardenContext} is the per-worker state every
 * hardened server shares (the header budget, the counters).
 *
 * What it adds to node's own parser:
 * - request heads still arriving are bounded per worker and checked against Gunicorn's limits
 *   while they arrive (header-budget.ts, head-scan.ts; node-parser.ts sees each chunk);
 * - complete heads that Gunicorn or RFC 9112 refuse get 400/505 before any listener sees them
 *   (http-checks.ts);
 * - a malformed request gets its status line (400, 408, 413, 431) only once every earlier
 *   response on the connection has been sent, never inside a response already on the wire (the
 *   socket is destroyed when such a response is cut short); node's default writes the status
 *   whenever the current response has not started, which puts it before a pipelined response;
 * - `CONNECT` gets `501 Not Implemented` when the server has no `connect` listener of its own
 *   (node drops the connection without a status line);
 * - `header_timeout` and `request_timeout` become the server's `headersTimeout`/`requestTimeout`.
 * Refusals are counted in `prodserver_requests_refused_total{reason}` (with metrics_bind).
 */
import type http from "node:http";
import type { Socket } from "node:net";
import { HeaderBudget, type Eviction, type HeadEntry } from "./header-budget.js";
import { HeadScan, headLimits, type HeadLimits, type Verdict } from "./head-scan.js";
import { checkRequest } from "./http-checks.js";
import { onChunks } from "./node-parser.js";
import { reject, trustedPeer } from "./request-guard.js";
import type { WorkerMetrics } from "./metrics.js";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";

/** The per-worker state shared by every hardened server. */
export interface HardenContext {
  readonly settings: Settings;
  readonly log: Logger;
  readonly metrics: WorkerMetrics | null;
  readonly limits: HeadLimits;
  readonly budget: HeaderBudget<Conn>;
  readonly trusted: (addr: string | undefined) => boolean;
}

/** One connection as harden sees it. */
interface Conn extends HeadEntry {
  sock: Socket;
  /** Bytes node has read from the socket so far. */
  read: () => number;
  /** `read()` where the current head starts. */
  mark: number;
  /** Requests seen on this connection. */
  requests: number;
  /** The last request while its body is still arriving; null between messages. */
  req: http.IncomingMessage | null;
  /** The response to the last request (node sends responses in order: when it is done, all are). */
  res: http.ServerResponse | null;
  /** Set once the runtime refused the connection: later events are ignored. */
  refused: boolean;
  scan: HeadScan | null;
}

const kConn = Symbol("prodserver.conn");
const kHardened = Symbol("prodserver.hardened");
type ConnSocket = Socket & { [kConn]?: Conn };

const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  505: "HTTP Version Not Supported",
};

/** The status for a client error from node's HTTP parser, by its error code. */
export function clientErrorVerdict(code: string | undefined): Verdict {
  if (code === "HPE_HEADER_OVERFLOW") return { status: 431, reason: "request head too large" };
  if (code === "HPE_HEADERS_TIMEOUT" || code === "ERR_HTTP_REQUEST_TIMEOUT") return { status: 408, reason: "request timeout" };
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return { status: 413, reason: "chunk extensions too large" };
  return { status: 400, reason: `malformed request (${code ?? "parse error"})` };
}

/**
 * Why the runtime refused a request or connection: the `reason` label of
 * `prodserver_requests_refused_total` (a fixed set, so the label stays bounded).
 */
export type RefusalKind = Eviction | "head_limits" | "protocol" | "parse_error" | "connect";

const EVICTED: Record<Eviction, Verdict> = {
  header_memory: { status: 431, reason: "limit_header_memory: the worker holds too many unfinished request heads" },
  header_connections: { status: 408, reason: "limit_header_connections: too many connections sending a request head" },
  header_timeout: { status: 408, reason: "header_timeout: the request head was not complete in time" },
};

/** Create the per-worker state; `metrics` is null without metrics_bind. */
export function hardenContext(settings: Settings, log: Logger, metrics: WorkerMetrics | null): HardenContext {
  const budget = new HeaderBudget<Conn>({ memory: settings.limit_header_memory, connections: settings.limit_header_connections, timeoutMs: settings.header_timeout * 1000 }, (c, why) =>
    refuseConnection(ctx, c.sock, EVICTED[why], why, true),
  );
  const ctx: HardenContext = { settings, log, metrics, limits: headLimits(settings), budget, trusted: trustedPeer(settings.forwarded_allow_ips) };
  return ctx;
}

/**
 * Harden `server` (an `http.Server` or `https.Server`, listening or not; call before it accepts;
 * a second call is a no-op). Wraps the server's `emit` (as APM instrumentations do) so that no
 * listener is added where node behaves differently with one (`clientError`, `checkExpectation`);
 * a `clientError` listener of the app's own takes precedence. Adds a `connect` listener that
 * answers 501 while it is the only one.
 */
export function harden(server: http.Server, ctx: HardenContext): void {
  const marked = server as http.Server & { [kHardened]?: true };
  if (marked[kHardened]) return;
  marked[kHardened] = true;
  server.headersTimeout = ctx.settings.header_timeout * 1000;
  server.requestTimeout = ctx.settings.request_timeout * 1000;
  const emit = server.emit as (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
    switch (event) {
      case "connection":
      case "secureConnection": {
        const r = emit.call(this, event, ...args);
        track(ctx, args[0] as ConnSocket);
        return r;
      }
      case "request":
      case "checkContinue":
      case "checkExpectation":
        return onRequest(ctx, args[0] as http.IncomingMessage, args[1] as http.ServerResponse) || emit.call(this, event, ...args);
      case "clientError":
        if (this.listenerCount("clientError") > 0) return emit.call(this, event, ...args);
        refuseConnection(ctx, args[1] as Socket, clientErrorVerdict((args[0] as NodeJS.ErrnoException)?.code), "parse_error", false);
        return true;
      case "upgrade":
      case "connect":
        untrack(ctx, (args[0] as http.IncomingMessage).socket as ConnSocket);
        return emit.call(this, event, ...args);
      default:
        return emit.call(this, event, ...args);
    }
  } as typeof server.emit;
  server.on("connect", (_req: http.IncomingMessage, sock: Socket) => {
    if (server.listenerCount("connect") === 1) refuseConnection(ctx, sock, { status: 501, reason: "CONNECT is not supported" }, "connect", false);
  });
}

/** Start following a new connection's request heads (no-op for a socket without an HTTP parser, e.g. https's raw TCP socket). */
function track(ctx: HardenContext, sock: ConnSocket): void {
  if (sock[kConn]) return;
  const c: Conn = { sock, read: () => 0, mark: 0, requests: 0, req: null, res: null, refused: false, scan: null, held: 0, since: 0 };
  const read = onChunks(sock, (chunk) => afterChunk(ctx, c, chunk));
  if (!read) return;
  c.read = read;
  sock[kConn] = c;
  sock.once("close", () => ctx.budget.remove(c));
}

function untrack(ctx: HardenContext, sock: ConnSocket): void {
  const c = sock[kConn];
  if (c) ctx.budget.remove(c);
  sock[kConn] = undefined;
}

/** Account the chunk node just parsed on `c`: body bytes, a head that completed, or a head still arriving. */
function afterChunk(ctx: HardenContext, c: Conn, chunk: () => Buffer | null): void {
  if (c.refused) return;
  const read = c.read();
  if (c.req) {
    // A body is arriving; the chunk that ends it may also start the next head, which is then seen from its next chunk on.
    if (c.req.complete) c.req = null;
    c.mark = read;
    return;
  }
  const held = read - c.mark;
  if (held === 0) return;
  if (held > ctx.limits.total) return refuseConnection(ctx, c.sock, { status: 431, reason: `request head too large (more than ${ctx.limits.total} bytes)` }, "head_limits", true);
  ctx.budget.update(c, held); // may evict this connection
  if (c.refused) return;
  c.scan ??= new HeadScan(ctx.limits, c.requests === 0 && c.mark === 0);
  const bytes = chunk();
  const v = bytes && c.scan.feed(bytes);
  if (v) refuseConnection(ctx, c.sock, v, "head_limits", true);
}

/** A request (head complete): reset the head accounting, then check it. Returns true when the runtime answered it. */
function onRequest(ctx: HardenContext, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const c = (req.socket as ConnSocket)[kConn];
  if (c) {
    c.requests++;
    c.req = req;
    c.res = res;
    c.mark = c.read();
    c.scan = null;
    ctx.budget.update(c, 0);
  }
  const v = checkRequest(req, () => ctx.trusted(req.socket.remoteAddress));
  if (!v) return false;
  refused(ctx, v, "protocol");
  reject(res, v.status, `${REASON_PHRASES[v.status] ?? "Bad Request"}: ${v.reason}\n`);
  return true;
}

/**
 * Answer `sock` with a status line and close it, without a response of its own: once every
 * earlier response on it has been sent (or at once with `now`, destroying it if one is still
 * open). An error in the body of the request being read is that request's answer: written at once
 * if its response has not started and none is queued before it, else the socket is destroyed. A
 * socket that cannot be written is destroyed.
 */
function refuseConnection(ctx: HardenContext, sock: ConnSocket, v: Verdict, kind: RefusalKind, now: boolean): void {
  const c = sock[kConn];
  if (c) {
    if (c.refused) return;
    c.refused = true;
    ctx.budget.remove(c);
  }
  refused(ctx, v, kind);
  const send = () => {
    if (!sock.writable || sock.destroyed) return void sock.destroy();
    sock.end(`HTTP/1.1 ${v.status} ${REASON_PHRASES[v.status] ?? "Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    // An evicted head is freed (with its parser) as soon as the status line is out; other
    // refusals give the client 2 s to read it before a client that keeps sending is cut off.
    if (now) sock.once("finish", () => sock.destroy());
    else setTimeout(() => sock.destroy(), 2000).unref();
  };
  sock.pause(); // node's parser reads no more (onSocketPause stops the handle)
  const last = c?.res;
  if (!last || last.writableFinished) return send();
  // The request being read is the one in error: answer it, unless its response started or waits behind another (no socket yet).
  if (c.req && !c.req.complete) return void (!last.headersSent && last.socket ? send() : sock.destroy());
  if (now) return void sock.destroy();
  // Wait for the responses before it; one cut short means the socket must not get anything more.
  last.once("close", () => (last.writableFinished ? send() : sock.destroy()));
}

function refused(ctx: HardenContext, v: Verdict, kind: RefusalKind): void {
  ctx.log.debug(`Refused a request (${kind}): ${v.status} ${v.reason}`);
  ctx.metrics?.refused(kind);
}
