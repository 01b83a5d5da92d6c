/**
 * Listen mode: serve an app that starts its own server (`app.listen(PORT)`, Next.js
 * `server.js`, Nitro's `.output/server/index.mjs`, `react-router-serve`, NestJS `main.js`) on the
 * arbiter's sockets, unchanged.
 *
 * {@link ListenCapture.install} replaces `net.Server.prototype.listen` (which http, https, http2,
 * Express, Koa, Fastify and polka servers all inherit) before any app code runs. A listen on the
 * *served port* — the port the runtime sets in `PORT` (or `app_port`), with any host — or on one of the worker's
 * listener fds (`listen({ fd: 3 })`, SvelteKit's and NestJS's socket activation) never touches a
 * socket: the server gets a stand-in handle that reports the served address, so `listening`,
 * `address()` and the `listen` callback behave as on a real socket, and the worker's own
 * acceptors hand it every connection (`server.emit("connection", socket)`, as node documents for
 * injecting sockets). This is node:cluster's round-robin "faux handle" idea without the IPC hop:
 * the app closing its server (a get-port style probe, a listen-close-listen) cannot close the
 * arbiter's socket, and two servers on the served port (Fastify's `localhost` → 127.0.0.1 and ::1)
 * both "listen"; connections go to the first still open. Listens on other ports, unix paths and
 * port 0 are left alone (metrics, HMR, tests) and only recorded, for the error message of an app
 * that never listens on the served port.
 *
 * Also refused, by name: `cluster.fork()` (an app that clusters itself — throng, Nitro's
 * `node-cluster` preset — would start workers × its own workers; set `workers` instead).
 */
import net from "node:net";
import { builtin } from "../builtin.js";
import { RUNTIME_OWNED } from "../listeners.js";
import type { Logger } from "../log.js";

/** An error thrown into the app when it does something the runtime cannot serve; the message names it. */
export class ListenModeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ListenModeError";
  }
}

/** The address the served port's stand-in handles report (the arbiter's first TCP listener). */
export interface ServedAddress {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
}

/** What the app asked for, normalised: the part of node's `normalizeArgs` the capture needs. */
interface ListenRequest {
  port?: number;
  host?: string;
  path?: string;
  fd?: number;
  backlog?: number;
  cb?: () => void;
}

function toRequest(args: unknown[]): ListenRequest | null {
  const cb = typeof args[args.length - 1] === "function" ? (args[args.length - 1] as () => void) : undefined;
  const a0 = args[0];
  const num = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined);
  if (a0 !== null && typeof a0 === "object") {
    const o = a0 as Record<string, unknown>;
    if ("_handle" in o || "handle" in o) return null; // listen(handle): an existing socket, not ours to redirect
    return {
      port: num(o.port),
      host: typeof o.host === "string" ? o.host : undefined,
      path: typeof o.path === "string" ? o.path : undefined,
      fd: typeof o.fd === "number" ? o.fd : undefined,
      backlog: num(o.backlog),
      cb,
    };
  }
  if (typeof a0 === "string" && num(a0) === undefined) return { path: a0, cb };
  return { port: num(a0), host: typeof args[1] === "string" ? args[1] : undefined, cb };
}

type HandleOwner = net.Server & { _handle: unknown; _listen2(address: string | null, port: number, addressType: number, backlog?: number, fd?: number, flags?: number): void };

/** The served port's listens, captured. */
export class ListenCapture {
  /** Captured servers still open, first captured first. */
  private readonly servers: net.Server[] = [];
  /** Every listen the app made elsewhere (`host:port`, `unix:path`, `fd N`), for messages. */
  readonly elsewhere: string[] = [];
  /** Sockets that arrived while no captured server was open (a listen-close-listen gap). */
  private pending: net.Socket[] = [];
  private waiters: Array<() => void> = [];
  private onCaptured: (s: net.Server) => void = () => {};
  private original: typeof net.Server.prototype.listen | null = null;

  /**
   * @param served what the stand-in handles report; `served.port` is the port redirected.
   * @param fds the worker's inherited listener fds (a `listen({ fd })` on one of them is captured too).
   * @param appPort `app_port`: another port whose listens are captured (an app that ignores PORT), or null.
   */
  constructor(
    readonly served: ServedAddress,
    private readonly fds: readonly number[],
    private readonly log: Logger,
    private readonly appPort: number | null = null,
  ) {}

  /** Patch `net.Server.prototype.listen` and `cluster.fork`; call before the app loads. */
  install(): void {
    if (this.original) return;
    const original = (this.original = net.Server.prototype.listen);
    const capture = this;
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      const req = (this as unknown as Record<symbol, unknown>)[RUNTIME_OWNED] ? null : toRequest(args);
      if (!req || !capture.isServed(req)) {
        if (req) capture.noteElsewhere(req);
        return original.apply(this, args as Parameters<typeof original>);
      }
      return capture.attach(this as HandleOwner, req, original, args);
    } as typeof net.Server.prototype.listen;
    // node:cluster only when the app loads it itself would be nicer, but it is cheap and the patch must precede the app.
    builtin<import("node:cluster").Cluster>("node:cluster").fork = () => {
      throw new ListenModeError(
        "the app calls cluster.fork() to start workers of its own; prodserver already runs `workers` worker processes, each serving the app. Start the app without its own clustering (throng: call the worker function directly; Nitro: the node-server preset instead of node-cluster) and set `workers` instead.",
      );
    };
  }

  /** Called for every server captured from now on (and for those captured already). */
  onServer(fn: (s: net.Server) => void): void {
    this.onCaptured = fn;
    for (const s of this.servers) fn(s);
  }

  /** True when at least one captured server is open. */
  get listening(): boolean {
    return this.servers.length > 0;
  }

  /** Resolves once a captured server is open (at once if one is). */
  whenListening(): Promise<void> {
    if (this.listening) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Hand an accepted connection to the first open captured server (or hold it until one opens, at most 5 s). */
  deliver(socket: net.Socket): void {
    const target = this.servers[0];
    if (target) return this.hand(target, socket);
    this.pending.push(socket);
    setTimeout(() => {
      if (!this.pending.includes(socket)) return;
      this.pending = this.pending.filter((s) => s !== socket);
      socket.destroy();
    }, 5000).unref();
  }

  /**
   * Give `socket` to `server` as node's own accept would have (net.js `onconnection`): the
   * server's `noDelay` (true for every http.Server) and `keepAlive` options first, then its
   * 'connection' event. The runtime's acceptor is a plain net.Server (noDelay false): without
   * this, a listen-mode app's responses written in more than one piece would wait on Nagle's
   * algorithm.
   */
  private hand(server: net.Server, socket: net.Socket): void {
    const opts = server as net.Server & { noDelay?: boolean; keepAlive?: boolean; keepAliveInitialDelay?: number };
    if (opts.noDelay) socket.setNoDelay(true);
    if (opts.keepAlive) socket.setKeepAlive(true, (opts.keepAliveInitialDelay ?? 0) * 1000); // net.Server keeps it in seconds
    server.emit("connection", socket);
  }

  private isServed(req: ListenRequest): boolean {
    if (req.fd !== undefined) return this.fds.includes(req.fd);
    return req.path === undefined && req.port !== undefined && req.port !== 0 && (req.port === this.served.port || req.port === this.appPort);
  }

  private noteElsewhere(req: ListenRequest): void {
    const where = req.path !== undefined ? `unix:${req.path}` : req.fd !== undefined ? `fd ${req.fd}` : `${req.host ?? "*"}:${req.port ?? 0}`;
    this.elsewhere.push(where);
    this.log.debug(`The app listens on ${where} itself (not the served port ${this.served.port})`);
  }

  /** Give `server` a stand-in handle for the served address and let node finish its listen(). */
  private attach(server: HandleOwner, req: ListenRequest, original: typeof net.Server.prototype.listen, args: unknown[]): net.Server {
    if (server._handle) return original.apply(server, args as Parameters<typeof original>); // throws ERR_SERVER_ALREADY_LISTEN
    if (req.cb) server.once("listening", req.cb);
    server._handle = this.standIn(server);
    const { address, family, port } = this.served;
    // node's setupListenHandle with a handle already present: sets the connection key, emits
    // 'listening' on the next tick (what node:cluster's workers do with their faux handle).
    server._listen2(address, port, family === "IPv6" ? 6 : 4, req.backlog);
    this.servers.push(server);
    this.log.debug(`Captured the app's listen() on port ${port}${req.fd !== undefined ? ` (fd ${req.fd})` : ""}`);
    this.onCaptured(server);
    for (const s of this.pending.splice(0)) this.hand(server, s);
    for (const w of this.waiters.splice(0)) w();
    return server;
  }

  /** What node's net.Server needs of a handle: listen, getsockname, close, ref/unref. */
  private standIn(server: net.Server): object {
    const served = this.served;
    return {
      listen: () => 0,
      getsockname: (out: Record<string, unknown>) => {
        Object.assign(out, served);
        return 0;
      },
      close: (cb?: () => void) => {
        const i = this.servers.indexOf(server);
        if (i >= 0) this.servers.splice(i, 1);
        if (cb) process.nextTick(cb);
      },
      ref: () => {},
      unref: () => {},
    };
  }
}
