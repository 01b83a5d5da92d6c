// A small HTTP load balancer for the one-node swarm test, standing in for nginx in front of the
// swarm service on kernels without IPVS (where swarm's routing mesh cannot work). Runs in a plain
// container attached to the stack's overlay network, published on 127.0.0.1 only.
//
// Backends: the task IPs of `tasks.<SERVICE>` (Docker's embedded DNS; the service uses
// endpoint_mode dnsrr), re-resolved every 500 ms, round robin. Like nginx's default
// `proxy_next_upstream error timeout`, a request whose upstream connection fails before any
// response byte is retried on the next backend (GET/HEAD only, up to 3 tries); nothing else is.
// Env: SERVICE (task DNS name suffix), PORT (backend port), LISTEN (default 8080).
import http from "node:http";
import { promises as dns } from "node:dns";

const service = process.env.SERVICE;
const port = Number(process.env.PORT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let backends = [];
let next = 0;
const stats = { requests: 0, retries: 0, failed: 0 };

async function refresh() {
  try {
    backends = (await dns.resolve4(`tasks.${service}`)).sort();
  } catch {
    backends = [];
  }
}
await refresh();
setInterval(refresh, 500).unref();

function forward(req, res, body, tries) {
  if (!backends.length) {
    stats.failed++;
    res.writeHead(502).end("no backend\n");
    return;
  }
  const host = backends[next++ % backends.length];
  const up = http.request({ host, port, path: req.url, method: req.method, headers: req.headers, agent, timeout: 10_000 }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  let answered = false;
  up.on("response", () => {
    answered = true;
  });
  up.on("timeout", () => up.destroy(new Error("upstream timeout")));
  up.on("error", (err) => {
    if (!answered && tries < 3 && (req.method === "GET" || req.method === "HEAD")) {
      stats.retries++;
      forward(req, res, body, tries + 1);
    } else if (!res.headersSent) {
      stats.failed++;
      res.writeHead(502).end(`upstream ${host}: ${err.message}\n`);
    } else {
      res.destroy();
    }
  });
  up.end(body);
}

http
  .createServer((req, res) => {
    if (req.url === "/__lb") {
      res.end(JSON.stringify({ backends, ...stats }));
      return;
    }
    stats.requests++;
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => forward(req, res, Buffer.concat(chunks), 1));
  })
  .listen(Number(process.env.LISTEN ?? 8080), "0.0.0.0");
process.on("SIGTERM", () => process.exit(0));
