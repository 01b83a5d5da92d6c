/**
 * Listening sockets, Gunicorn's model: the arbiter binds every address ONCE and keeps the socket
 * for the whole life of the service; each worker receives a duplicate of the same socket (fd
 * passing over the IPC channel) and calls listen()/accept() on it itself. The kernel hands each
 * connection to one of the accepting workers; the arbiter never touches a connection.
 *
 * Why not node:cluster: with SCHED_RR the primary accepts every connection in its own event loop
 * and ships it over IPC (one hop per connection, the primary a bottleneck); with SCHED_NONE the
 * primary's SharedHandle (lib/internal/cluster/primary.js: `SharedHandle.prototype.remove`)
 * *closes* the listening socket as soon as no worker holds it — a crash of the only worker drops
 * the backlog, and a `:0` bind then comes back on another port. Here the arbiter keeps a
 * bound-but-never-polled handle (net's `_createServerHandle`, the function cluster itself uses):
 * the socket is in LISTEN state once a worker has called listen() and stays so while no worker
 * runs (connections wait in the backlog for the replacement).
 *
 * Measured (2026-11-21, 2 workers, a 2-CPU shared machine under other load, loopback, 32
 * concurrent clients for 4 s, one-off, not a benchmark): a new connection per request —
 * this model 3036 req/s with requests split 65/35 between the workers, node:cluster SCHED_RR
 * 2452 req/s split 55/45; keep-alive — 8687 vs 8328 req/s (connections stick to a worker in
 * both). The kernel's accept distribution is less even than round-robin (as node's docs warn
 * for SCHED_NONE) but no process hop is paid per connection.
 *
 * `reuse_port` (nginx's `reuseport`, Gunicorn 24's `reuse_port`): one SO_REUSEPORT socket per
 * worker *slot* instead of one shared socket, so the kernel spreads new connections by their
 * address hash rather than by which worker woke first. The arbiter binds and holds these too
 * (Gunicorn 24 lets each worker bind its own, so a worker's exit resets the connections queued
 * on its socket unless `net.ipv4.tcp_migrate_req=1`); a replacement inherits its predecessor's.
 */
import fs from "node:fs";
import net from "node:net";
import util from "node:util";
import { parseBind, type Bind } from "./settings.js";
import { builtin } from "./builtin.js";

/** An opaque libuv TCP or Pipe handle (what net.Server keeps in `_handle`). */
export type NativeHandle = { fd: number; close(cb?: () => void): void; getsockname?(out: Record<string, unknown>): number };

type CreateServerHandle = (address: string | null, port: number | null, addressType: number | null, fd?: number, flags?: number) => NativeHandle | number;
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })._createServerHandle;

/** One bound listener held by the arbiter. */
export interface Listener {
  /** The bind string as configured (`127.0.0.1:0`). */
  readonly bind: string;
  readonly spec: Bind;
  /** What it really listens on, e.g. `http://127.0.0.1:43117` or `unix:/run/app.sock`. */
  readonly url: string;
  readonly handle: NativeHandle;
  /**
   * reuse_port on a TCP bind: SO_REUSEPORT sockets on the same address, one per worker slot
   * (`handle` is `slots[0]`), among which the kernel spreads new connections evenly. The arbiter
   * holds each for the life of the service, as it holds `handle` in the shared model, so a
   * worker's replacement (reload, recycle, crash) accepts from its predecessor's socket and no
   * connection queued on it is lost ({@link slotHandle}, {@link trimSlots}).
   */
  readonly slots?: NativeHandle[];
}

/** A TCP socket's resolved address and port. */
export interface TcpAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** libuv's UV_TCP_REUSEPORT bind flag (tcp_wrap's constant since Node 22.12 / 23.1). */
const UV_TCP_REUSEPORT = 2;

/**
 * Why `reuse_port` cannot be used on this Node.js, or null when it can: node's TCP bind takes
 * libuv's UV_TCP_REUSEPORT flag from 22.12 / 23.1 on (PR #55408; older versions ignore it
 * silently, so the version is checked rather than trusted). `version` is `process.versions.node`.
 */
export function reusePortUnsupported(version: string = process.versions.node, platform: string = process.platform): string | null {
  const [major, minor] = version.split(".").map(Number);
  const ok = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  if (!ok) return `needs Node.js >= 22.12 (or >= 23.1) for SO_REUSEPORT; this is Node.js v${version}. Turn reuse_port off or run a newer Node.js.`;
  if (platform !== "linux" && platform !== "freebsd") return `SO_REUSEPORT load balancing is not available on ${platform}; turn reuse_port off.`;
  return null;
}

function fail(bind: string, why: string): never {
  throw new Error(`bind ${bind}: ${why}`);
}

/**
 * Bind one address (no listen() yet: workers do that). TCP host names are resolved first;
 * a stale unix socket file is removed (a non-socket file there is an error), and the socket's
 * permissions are `0o666 & ~umask`. `fd://N` adopts an inherited socket.
 * @throws Error `bind ADDR: reason` (EADDRINUSE, EACCES, ...).
 */
export async function bindOne(bind: string, umask = 0, reusePort = false): Promise<Listener> {
  const spec = parseBind(bind);
  if (spec.kind === "unix") {
    try {
      const st = fs.lstatSync(spec.path);
      if (!st.isSocket()) fail(bind, `${spec.path} exists and is not a socket`);
      fs.unlinkSync(spec.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const h = createServerHandle(spec.path, -1, -1);
    if (typeof h === "number") fail(bind, util.getSystemErrorName(h));
    try {
      fs.chmodSync(spec.path, 0o666 & ~umask);
    } catch (e) {
      fail(bind, `chmod: ${(e as Error).message}`);
    }
    return { bind, spec, url: `unix:${spec.path}`, handle: h };
  }
  if (spec.kind === "fd") {
    let h: NativeHandle | number;
    try {
      h = createServerHandle(null, null, null, spec.fd);
    } catch (e) {
      fail(bind, `fd ${spec.fd} is not a socket (${(e as Error).message})`);
    }
    if (typeof h === "number") fail(bind, util.getSystemErrorName(h));
    return { bind, spec, url: `fd://${spec.fd}`, handle: h, ...describeFd(h) };
  }
  let address = spec.host;
  let family = net.isIP(address);
  if (family === 0) {
    try {
      const r = await builtin<typeof import("node:dns/promises")>("node:dns/promises").lookup(address);
      address = r.address;
      family = r.family;
    } catch (e) {
      fail(bind, `cannot resolve ${spec.host}: ${(e as Error).message}`);
    }
  }
  const h = createServerHandle(address, spec.port, family, undefined, reusePort ? UV_TCP_REUSEPORT : undefined);
  if (typeof h === "number") fail(bind, util.getSystemErrorName(h));
  // libuv defers EADDRINUSE from bind(2) to listen(2) (`delayed_error`), and that error stays in
  // this process: a worker's listen() on the never-bound socket would silently auto-bind a
  // random port. So check that the socket really is bound where asked.
  const out: Record<string, unknown> = {};
  const rc = h.getsockname?.(out) ?? 0;
  const port = typeof out.port === "number" ? out.port : -1;
  if (rc !== 0 || port <= 0 || (spec.port !== 0 && port !== spec.port)) {
    h.close();
    fail(bind, "EADDRINUSE (address already in use)");
  }
  const host = family === 6 ? `[${address}]` : address;
  return { bind, spec, url: `http://${host}:${port}`, handle: h, slots: reusePort ? [h] : undefined };
}

/** The TCP address a handle is bound to, or null (a unix socket, or not bound). */
export function tcpName(h: NativeHandle): TcpAddress | null {
  const out: Record<string, unknown> = {};
  if (h.getsockname?.(out) !== 0 || typeof out.port !== "number") return null;
  return { address: String(out.address), port: out.port, family: out.family === "IPv6" || out.family === 6 ? 6 : 4 };
}

function describeFd(h: NativeHandle): { url?: string } {
  const n = tcpName(h);
  return n ? { url: `http://${n.family === 6 ? `[${n.address}]` : n.address}:${n.port}` } : {};
}

/**
 * Adopt the sockets inherited from the previous arbiter (USR2 re-exec) for bind string `bind`:
 * already bound (and listening); only the fds change hands. `fds` holds one fd, or with
 * reuse_port one per worker slot in slot order (extra fds are closed when reuse_port is off now).
 */
export function adopt(bind: string, fds: readonly number[], reusePort = false): Listener {
  const spec = parseBind(bind);
  const take = (fd: number) => {
    const h = createServerHandle(null, null, null, fd);
    if (typeof h === "number") fail(bind, `inherited fd ${fd}: ${util.getSystemErrorName(h)}`);
    return h;
  };
  const multi = reusePort && spec.kind === "tcp";
  for (const fd of multi ? [] : fds.slice(1)) fs.closeSync(fd);
  const handles = (multi ? fds : fds.slice(0, 1)).map(take);
  const url = spec.kind === "unix" ? `unix:${spec.path}` : (describeFd(handles[0]).url ?? `fd://${fds[0]}`);
  return { bind, spec, url, handle: handles[0], slots: multi ? handles : undefined };
}

/** The fds of a listener's sockets, in slot order (one unless reuse_port). */
export function listenerFds(l: Listener): number[] {
  return (l.slots ?? [l.handle]).map((h) => h.fd);
}

/**
 * Bind every address (adopting the ones in `inherited`, bind string -> fds); on failure, close
 * what was bound and rethrow. `reusePort`: TCP binds get one SO_REUSEPORT socket per worker slot.
 */
export async function bindAll(binds: readonly string[], umask = 0, inherited: ReadonlyMap<string, readonly number[]> = new Map(), reusePort = false): Promise<Listener[]> {
  const out: Listener[] = [];
  try {
    for (const b of binds) out.push(inherited.has(b) ? adopt(b, inherited.get(b)!, reusePort) : await bindOne(b, umask, reusePort));
  } catch (e) {
    closeAll(out);
    throw e;
  }
  return out;
}

/**
 * For a reload: keep the listeners whose bind string is still configured, bind the new ones.
 * Returns the same array when nothing changed. @throws Error `bind ADDR: reason`.
 */
export async function rebind(current: Listener[], binds: readonly string[], umask: number, log: { info(m: string): void }, reusePort = false): Promise<Listener[]> {
  // A TCP listener is kept only if reuse_port did not change for it (shared vs per-slot sockets).
  const same = (l: Listener) => binds.includes(l.bind) && (l.spec.kind !== "tcp" || !!l.slots === reusePort);
  if (current.length === binds.length && current.every((l, i) => l.bind === binds[i] && same(l))) return current;
  const keep = current.filter(same);
  const fresh = await bindAll(
    binds.filter((b) => !keep.some((l) => l.bind === b)),
    umask,
    new Map(),
    reusePort,
  );
  for (const l of fresh) log.info(`Listening at: ${l.url} (${process.pid})`);
  return [...keep, ...fresh];
}

/**
 * Close the arbiter's handles; unlink unix socket files it created (not `fd://` ones, which
 * belong to whoever passed them, e.g. systemd), unless `keepFiles` (re-exec hand-over).
 */
export function closeAll(listeners: readonly Listener[], keepFiles = false): void {
  for (const l of listeners) {
    // libuv unlinks a unix socket's path when the handle that bound it closes
    // (uv__pipe_close), so a socket file another arbiter still serves must not be closed here;
    // the fd goes away with this process.
    if (keepFiles && l.spec.kind === "unix") continue;
    for (const h of l.slots ?? [l.handle]) {
      try {
        h.close();
      } catch {
        /* already closed */
      }
    }
    if (l.spec.kind === "unix" && !keepFiles) {
      try {
        fs.unlinkSync(l.spec.path);
      } catch {
        /* gone already */
      }
    }
  }
}

/**
 * Whether the kernel hands connections queued on a closing SO_REUSEPORT listener to another
 * listener of the group (`net.ipv4.tcp_migrate_req`, Linux 5.14+); null when unknown.
 */
export function migrateReqEnabled(): boolean | null {
  try {
    return fs.readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() === "1";
  } catch {
    return null;
  }
}

/**
 * The socket a worker of slot `slot` accepts on: the listener's one socket, or with reuse_port
 * the slot's own SO_REUSEPORT socket, bound here (to the first socket's address and port) when
 * the slot is new. Slots are numbered from 0 without gaps. A socket bound here is not listening
 * yet, so the kernel sends it nothing until its worker calls listen().
 * @throws Error `bind ADDR: reason` when a new slot's socket cannot be bound
 */
export function slotHandle(l: Listener, slot: number): NativeHandle {
  if (!l.slots) return l.handle;
  while (l.slots.length <= slot) {
    const at = tcpName(l.handle);
    if (!at) fail(l.bind, "reuse_port: the listener has no TCP address to bind another socket to");
    const h = createServerHandle(at.address, at.port, at.family, undefined, UV_TCP_REUSEPORT);
    if (typeof h === "number") fail(l.bind, `${util.getSystemErrorName(h)} (reuse_port: the socket of worker slot ${l.slots.length})`);
    l.slots.push(h);
  }
  return l.slots[slot];
}

/**
 * reuse_port: close the sockets of slots `keep` and above (TTOU left them without a worker).
 * The kernel resets connections still queued on a closed SO_REUSEPORT socket unless
 * `net.ipv4.tcp_migrate_req=1` hands them to another socket of the group. Returns how many closed.
 */
export function trimSlots(l: Listener, keep: number): number {
  let n = 0;
  while (l.slots && l.slots.length > Math.max(1, keep)) {
    l.slots.pop()?.close();
    n++;
  }
  return n;
}

/** Marks the runtime's own servers, which the listen capture (worker/listen-capture.ts) never redirects. */
export const RUNTIME_OWNED = Symbol.for("prodserver.runtimeOwned");

/**
 * Worker side: start accepting on `fd`, an inherited socket the arbiter bound (TCP or unix;
 * node detects which; with reuse_port, the worker slot's own socket).
 * @throws (rejects with) the listen error
 */
export function listenOn(server: net.Server, fd: number, backlog: number): Promise<void> {
  (server as unknown as Record<symbol, boolean>)[RUNTIME_OWNED] = true;
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    const done = () => {
      server.off("error", onError);
      resolve();
    };
    server.listen({ fd, backlog }, done);
  });
}
