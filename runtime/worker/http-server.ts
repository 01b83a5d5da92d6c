/**
 * Handler mode: the worker's own `node:http` (or, with `certfile`/`keyfile`, `node:https`) server
 * on each listening socket it received, calling the request pipeline and then the app.
 * Upgrades (WebSocket) go to the app's upgrade handler, else 501. Each server is hardened
 * (harden.ts): bounded request heads, protocol checks, status lines for malformed requests.
 */
import type http from "node:http";
import type { Socket } from "node:net";
import { builtin } from "../builtin.js";
import { listenOn } from "../listeners.js";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";
import type { tlsOptions } from "../owner.js";
import type { UpgradeListener } from "./app-loader.js";
import type { Drain } from "./drain.js";
import { harden, type HardenContext } from "./harden.js";
import { limits, maxHeaderSize } from "./request-guard.js";

/**
 * Create one server per listening socket, configured from the settings (keep-alive, header
 * limits, worker_connections), its connections tracked by `drain`, and start accepting.
 * @throws Error when a socket cannot be listened on.
 */
export async function serveHandler(
  targets: number[],
  settings: Settings,
  tls: ReturnType<typeof tlsOptions>,
  log: Logger,
  drain: Drain,
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  upgrade: UpgradeListener | undefined,
  hardened: HardenContext,
): Promise<void> {
  const servers = targets.map(() => {
    const opts = { keepAliveTimeout: settings.keepalive * 1000, maxHeaderSize: maxHeaderSize(settings) };
    // node:https only with TLS: the bundle's static imports would load it in the arbiter too (builtin.ts).
    const s = tls ? builtin<typeof import("node:https")>("node:https").createServer({ ...opts, ...tls }, onRequest) : builtin<typeof import("node:http")>("node:http").createServer(opts, onRequest);
    s.keepAliveTimeout = settings.keepalive * 1000;
    s.maxHeadersCount = limits(settings).fields + 1; // one more than allowed, so the guard can see the excess
    s.maxConnections = settings.worker_connections;
    s.on("error", (e) => log.error(`Server error: ${e.message}`)); // e.g. EMFILE on accept: keep serving
    drain.track(s, !!tls);
    s.on("upgrade", (req, sock: Socket, head: Buffer) => {
      if (upgrade) upgrade(req, sock, head);
      else sock.end("HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
    harden(s, hardened);
    return s;
  });
  await Promise.all(servers.map((s, i) => listenOn(s, targets[i], settings.backlog)));
}
