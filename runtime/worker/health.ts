/**
 * The runtime's own health endpoints, answered by every worker before the app sees the request:
 * `GET|HEAD /livez` (and its alias `/healthz`) -> 200 `ok` while the process serves;
 * `/readyz` -> 200 `ready`, or 503 `draining` once the worker is shutting down, recycling or
 * being replaced (so a load balancer stops sending new work). The query string is ignored.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Answer a health request; returns false (and does nothing) when `req` is not one.
 * `draining()` says whether the worker is draining.
 */
export function answerHealth(req: IncomingMessage, res: ServerResponse, draining: () => boolean): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const p = q >= 0 ? url.slice(0, q) : url;
  let status: number;
  let body: string;
  if (p === "/livez" || p === "/healthz") {
    status = 200;
    body = "ok";
  } else if (p === "/readyz") {
    [status, body] = draining() ? [503, "draining"] : [200, "ready"];
  } else {
    return false;
  }
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(body.length), "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
