/**
 * Exponential back-off for replacing workers that fail to boot or crash right after booting:
 * 0.5 s, 1 s, 2 s ... capped at 30 s; the count resets after 30 s without a failure
 * (PM2's `exp_backoff_restart_delay` reset rule). Gunicorn has none: it halts on a boot failure.
 */
export class Backoff {
  private failures = 0;
  private lastFailureAt = 0;
  private until = 0;

  /** Milliseconds between a failure and the reset of the count. */
  static readonly RESET_MS = 30_000;

  /** Record one failure; returns the delay before the next spawn, in seconds. */
  fail(now = Date.now()): { delay: number; failures: number } {
    if (now - this.lastFailureAt > Backoff.RESET_MS) this.failures = 0;
    this.failures++;
    this.lastFailureAt = now;
    const delay = Math.min(30, 0.5 * 2 ** (this.failures - 1));
    this.until = now + delay * 1000;
    return { delay, failures: this.failures };
  }

  /** Milliseconds left before a worker may be spawned again (0 = now). */
  remaining(now = Date.now()): number {
    return Math.max(0, this.until - now);
  }
}
