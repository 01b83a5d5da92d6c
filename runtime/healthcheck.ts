/**
 * `prodserver healthcheck [--url URL] [--timeout S]`: GET the URL (default
 * `http://127.0.0.1:${PORT||8000}/readyz`) and exit 0 on a 2xx answer, 1 otherwise with a
 * one-line reason on stderr. Needs no curl/wget in the image; used by Docker `HEALTHCHECK` and
 * systemd. `--timeout` (seconds, default 3) bounds the whole exchange.
 */
import util from "node:util";
import { builtin } from "./builtin.js";

/** `healthcheck --help`. */
export const HEALTHCHECK_USAGE = `usage: prodserver healthcheck [--url URL] [--timeout SECONDS]
GET URL and exit 0 on a 2xx answer, 1 otherwise with the reason on stderr. For Docker
HEALTHCHECK and systemd; needs no curl or wget in the image.

options:
  --url URL          default http://127.0.0.1:$PORT/readyz ($PORT, else 8000)
  --timeout SECONDS  bound on the whole exchange; default 3
  -h, --help         show this help
`;

/** Run the health check; resolves with the exit code (0 healthy, 1 not; 0 for `--help`). Never throws. */
export async function healthcheck(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(HEALTHCHECK_USAGE);
    return 0;
  }
  const fail = (why: string) => {
    process.stderr.write(`healthcheck: ${why.replace(/\s*\n\s*/g, " ")}\n`);
    return 1;
  };
  let url: URL;
  let timeout: number;
  try {
    const { values } = util.parseArgs({ args, options: { url: { type: "string" }, timeout: { type: "string" } }, strict: true });
    const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : "8000";
    url = new URL(values.url ?? `http://127.0.0.1:${port}/readyz`);
    if (url.protocol !== "http:" && url.protocol !== "https:") return fail(`--url: expected an http:// or https:// URL, got ${url.href}`);
    timeout = values.timeout === undefined ? 3 : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0) return fail(`--timeout: expected a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
  } catch (e) {
    return fail((e as Error).message);
  }
  // node:https (and TLS) only when asked for: the bundle's static imports load in every process.
  const mod = builtin<typeof import("node:https")>(url.protocol === "https:" ? "node:https" : "node:http");
  return new Promise<number>((resolve) => {
    const req = mod.get(url, { agent: false, headers: { "user-agent": "prodserver-healthcheck" } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) resolve(0);
      else resolve(fail(`${url.href} answered ${status} ${res.statusMessage ?? ""}`.trim()));
      req.destroy();
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeout}s`));
    }, timeout * 1000);
    req.on("error", (e: NodeJS.ErrnoException) => resolve(fail(`${url.href}: ${e.code ? `${e.code} ` : ""}${e.message}`)));
    req.on("close", () => clearTimeout(timer));
  });
}
