/**
 * Listen mode, serving side: the worker accepts on its listening sockets with plain `net` (or,
 * with `certfile`/`keyfile`, `tls`) servers of its own and hands each connection to the server the
 * app started (listen-capture.ts). The app's server parses HTTP with its own settings; the
 * runtime's request pipeline (health endpoints, guards, access log, metrics, max_requests,
 * hooks) runs first on every request, by wrapping the captured server's `request` event; the
 * drain tracks the connections at the acceptors, as in handler mode.
 */
import type http from "node:http";
import net from "node:net";
import { builtin } from "../builtin.js";
import { listenOn } from "../listeners.js";
import type { Logger } from "../log.js";
import type { tlsOptions } from "../owner.js";
import type { Settings } from "../settings.js";
import type { Drain } from "./drain.js";
import type { ListenCapture } from "./listen-capture.js";
import type { Pipeline } from "./pipeline.js";

const kInstrumented = Symbol("prodserver.instrumented");

/** Run `pipeline` before the app on every `request` event of `server` (once per server). */
export function instrument(server: net.Server, pipeline: Pipeline): void {
  const s = server as net.Server & { [kInstrumented]?: true };
  if (s[kInstrumented]) return;
  s[kInstrumented] = true;
  const emit = server.emit as (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "request") return emit.call(this, event, ...args);
    const [req, res] = args as [http.IncomingMessage, http.ServerResponse];
    pipeline(req, res, () => emit.call(this, "request", req, res));
    return true;
  } as typeof server.emit;
}

/** True for node's HTTP/1 servers (`http.Server`, `https.Server`): they carry `maxHeadersCount` and `headersTimeout`. */
function isHttpServer(s: net.Server): s is http.Server {
  return "maxHeadersCount" in s && "headersTimeout" in s;
}

/**
 * Accept on every target and deliver each connection to the app's captured server; instrument
 * every captured server (now and later) with `pipeline`, and `harden` each that parses HTTP
 * with node's parser (`node:http`/`node:https`; harden.ts).
 * @throws Error when a socket cannot be listened on.
 */
export async function serveCaptured(
  targets: number[],
  settings: Settings,
  tls: ReturnType<typeof tlsOptions>,
  log: Logger,
  drain: Drain,
  capture: ListenCapture,
  pipeline: Pipeline,
  harden: (server: http.Server) => void,
): Promise<void> {
  capture.onServer((s) => {
    instrument(s, pipeline);
    if (isHttpServer(s)) harden(s);
  });
  const acceptors = targets.map(() => {
    const a = tls ? builtin<typeof import("node:tls")>("node:tls").createServer(tls) : net.createServer();
    a.maxConnections = settings.worker_connections;
    a.on("error", (e) => log.error(`Server error: ${e.message}`)); // e.g. EMFILE on accept: keep serving
    drain.track(a, !!tls);
    a.on(tls ? "secureConnection" : "connection", (sock: net.Socket) => capture.deliver(sock));
    return a;
  });
  await Promise.all(acceptors.map((a, i) => listenOn(a, targets[i], settings.backlog)));
}
