/** Socket helpers shared by tests. */
import http from "node:http";
import net from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (bind :0, read the port, close). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A reply read whole: status, body text, headers. */
export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET http://127.0.0.1:`port``path` and read the whole reply; rejects on a socket error or after 5 s. */
export function httpGet(port: number, path: string, opts: { agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: opts.agent, headers: opts.headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Poll `fn` every 100 ms until it returns true, at most `ms` milliseconds (a bound, not a speed assertion). */
export async function until(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}
