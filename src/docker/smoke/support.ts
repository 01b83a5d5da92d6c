/** Small helpers the smoke checks share: timers that never outlive their use, HTTP with a bound. */
import type Dockerode from "dockerode";
import type { CheckResult, SmokeContext } from "./types.js";

/** Nanoseconds per second (the Engine API's health-check durations are nanoseconds). */
export const NS = 1e9;

/** Resolves after `ms` milliseconds. Only for awaited pauses: a raced sleep must use {@link within}. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A passing result. */
export const pass = (detail: string): CheckResult => ({ ok: true, detail });
/** A failing result. */
export const fail = (detail: string): CheckResult => ({ ok: false, detail });

/**
 * Waits for `promise` at most `ms` milliseconds; resolves to its value, or to `null` on timeout.
 * The timer is cleared as soon as either side settles: a bare `Promise.race([p, sleep(ms)])` left
 * a referenced timer behind that kept the CLI alive for the whole bound after the smoke test
 * (`prodserver build` exited ~33 s after its report with the default 30 s graceful timeout).
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * fetch with a timeout in ms; the body is read before the timer is cleared. The timer is a
 * referenced setTimeout, not AbortSignal.timeout (whose timer is unreferenced: a request hanging
 * on a container's half-ready published port left the event loop with nothing to wait for, and
 * node exited with "unsettled top-level await").
 * @throws the fetch error, or an abort error naming the URL and the bound.
 */
export async function fetchWithTimeout(url: string, ms: number): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no answer within ${ms} ms`)), ms);
  try {
    const res = await fetch(url, { signal: ac.signal });
    const body = await res.arrayBuffer();
    return new Response(body, { status: res.status, headers: res.headers });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The running container and its base URL, for checks that need one.
 * @throws Error when `start` has not run (or failed).
 */
export function running(ctx: SmokeContext): { container: Dockerode.Container; baseUrl: string } {
  if (!ctx.container || !ctx.baseUrl) throw new Error("no running container (the start check did not run or failed)");
  return { container: ctx.container, baseUrl: ctx.baseUrl };
}
