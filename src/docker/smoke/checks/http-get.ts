/** `get <path>`: an HTTP GET from the host to the container's published port. */
import type { SmokeCheck } from "../types.js";
import { fail, fetchWithTimeout, pass, running } from "../support.js";

/**
 * A check named `get <path>` that passes when the answer's status satisfies `expect`
 * (default: 2xx) within 10 s. The detail is the status and the body's first 80 characters.
 */
export function httpGet(path: string, expect: (status: number) => boolean = (s) => s >= 200 && s < 300): SmokeCheck {
  return {
    name: `get ${path}`,
    async run(ctx) {
      const res = await fetchWithTimeout(running(ctx).baseUrl + path, 10_000);
      const body = (await res.text()).replace(/\s+/g, " ").slice(0, 80);
      return expect(res.status) ? pass(`${res.status} ${body}`) : fail(`GET ${path} -> ${res.status} ${body}`);
    },
  };
}
