/**
 * The one place the runtime reaches into node:http's request parser, to see each chunk of a
 * request head as it arrives (header-budget.ts, head-scan.ts) without slowing the common case.
 *
 * node:http feeds a plain TCP socket to its C++ parser directly ("consumed": no JavaScript
 * `data` events), and calls back into JavaScript once per chunk read, through the parser's
 * `kOnExecute` slot (`_http_server.js` `connectionListenerInternal` -> `onParserExecute`; the same
 * in Node 20 and 24). Wrapping that callback per connection costs one function call per chunk.
 * The documented alternative, a `data` listener, makes node "unconsume" the socket and route every
 * chunk through a stream: 25-40 % more CPU per small request (hello world, 2 cores, wrk -c16).
 * When the slot is missing (a TLS socket node does not consume, or a future node), {@link onChunks}
 * falls back to an ordinary `data` listener added after node's own, which sees the same chunks
 * after node parsed them.
 */
import nodeModule from "node:module";
import type { Socket } from "node:net";

interface NodeParser {
  /** node sets this when the parser reads the socket's handle itself. */
  _consumed?: boolean;
  /** A copy of the chunk being parsed; valid only inside the kOnExecute callback. */
  getCurrentBuffer?: () => Buffer;
  [slot: number]: unknown;
}

let kOnExecute: number | null | undefined;
function onExecuteSlot(): number | null {
  if (kOnExecute === undefined) {
    try {
      const n = (nodeModule.createRequire(import.meta.url)("_http_common") as { HTTPParser?: { kOnExecute?: unknown } }).HTTPParser?.kOnExecute;
      kOnExecute = typeof n === "number" ? n : null;
    } catch {
      kOnExecute = null;
    }
  }
  return kOnExecute;
}

/**
 * Call `after(chunk)` once per chunk node's parser has just parsed on `sock` (a server-side socket
 * whose `connection` listener node has already run). `chunk()` returns the chunk's bytes (a copy
 * in the consumed case: call it only when needed). Stops when node frees the parser (upgrade,
 * CONNECT, close). Returns the count of bytes node has read from `sock` (its `bytesRead`, or the
 * sum of the chunks in the fallback), or null when `sock` has no parser (not an HTTP/1 connection).
 */
export function onChunks(sock: Socket, after: (chunk: () => Buffer | null) => void): (() => number) | null {
  const parser = (sock as Socket & { parser?: NodeParser | null }).parser;
  if (!parser) return null;
  const live = () => (sock as Socket & { parser?: unknown }).parser === parser;
  const slot = onExecuteSlot();
  const orig = slot === null ? undefined : parser[slot];
  if (parser._consumed && slot !== null && typeof orig === "function") {
    const current = () => (typeof parser.getCurrentBuffer === "function" ? parser.getCurrentBuffer() : null);
    parser[slot] = (ret: unknown) => {
      (orig as (ret: unknown) => void)(ret);
      if (live()) after(current);
    };
    return () => sock.bytesRead;
  }
  // Not consumed: node's own `data` listener parses; count before it, account after it.
  let read = 0;
  sock.prependListener("data", (d: Buffer) => void (read += d.length));
  sock.on("data", (d: Buffer) => void (live() && after(() => d)));
  return () => read;
}
