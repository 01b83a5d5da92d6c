/**
 * A worker's budget for request heads still arriving (issue: 1000 connections each parking
 * 795 KB of unfinished headers — within Gunicorn's per-request limits — grew a worker from 55 to
 * 566 MB). Every server of the worker shares one budget:
 *
 * - `limit_header_memory`: the bytes of all unfinished heads together, plus the bytes of heads
 *   evicted in about the last second ({@link DEBT_SECONDS}: node's parser has turned most of them
 *   into strings the garbage collector has not reclaimed yet). A chunk that brings the total over
 *   it evicts the connection holding the most (-> 431), until the total fits again; heads of at
 *   most {@link SMALL_HEAD} bytes are never evicted for memory (the connection limit bounds them).
 *   Under a sustained flood the debt stays near the limit, so each new large head is evicted at
 *   its first chunk, before node hands it to JavaScript (it does every 32 header lines).
 * - `limit_header_connections`: connections with an unfinished head. One more evicts the one
 *   that has been sending its head longest (-> 408, slowloris).
 * - `header_timeout`: a head not complete this many seconds after its first byte (-> 408),
 *   checked four times per timeout (at most once a second) while any head is unfinished.
 *
 * A head that arrives in one read (almost every real request) never enters the budget: it is
 * complete by the time its chunk is accounted. Evicting is the caller's job (harden.ts).
 */

/** One connection's place in the budget. */
export interface HeadEntry {
  /** Bytes of its unfinished head (0 = none). */
  held: number;
  /** When its head's first accounted byte arrived (ms since the epoch; 0 = none). */
  since: number;
}

/** Why a connection is evicted: memory (431), connections or timeout (408). */
export type Eviction = "header_memory" | "header_connections" | "header_timeout";

/** Heads up to this size are never evicted for memory: node's default `maxHeaderSize`, 16 KiB. */
export const SMALL_HEAD = 16 * 1024;
/** Evicted bytes count against the memory limit for about this long (exponential decay, seconds). */
export const DEBT_SECONDS = 1;

export interface BudgetLimits {
  /** Bytes; 0 = unlimited. */
  memory: number;
  /** Connections; 0 = unlimited. */
  connections: number;
  /** Milliseconds; 0 = no timeout. */
  timeoutMs: number;
}

export class HeaderBudget<E extends HeadEntry = HeadEntry> {
  /** Bytes of all unfinished heads. */
  total = 0;
  /** Bytes of evicted heads, decaying ({@link DEBT_SECONDS}), as of `debtAt`. */
  private debtBytes = 0;
  private debtAt = 0;
  private readonly reading = new Set<E>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limits: BudgetLimits,
    /** Called for each evicted entry, after it left the budget. */
    private readonly evict: (e: E, why: Eviction) => void,
  ) {}

  /** Connections with an unfinished head. */
  get size(): number {
    return this.reading.size;
  }

  /** `e`'s unfinished head now holds `held` bytes (0: it completed, or the connection ended). */
  update(e: E, held: number): void {
    if (held === e.held) return;
    this.total += held - e.held;
    e.held = held;
    if (held === 0) {
      this.reading.delete(e);
      e.since = 0;
      if (this.reading.size === 0) this.stopTimer();
      return;
    }
    if (!this.reading.has(e)) {
      this.reading.add(e);
      e.since = Date.now();
      this.startTimer();
      const max = this.limits.connections;
      if (max > 0 && this.reading.size > max) this.drop(this.oldest(), "header_connections");
    }
    const mem = this.limits.memory;
    while (mem > 0 && this.total + this.debt() > mem) {
      const big = this.largest();
      if (!big || big.held <= SMALL_HEAD) break;
      this.addDebt(big.held);
      this.drop(big, "header_memory");
    }
  }

  /** Bytes of recently evicted heads (decayed to now). */
  debt(): number {
    if (this.debtBytes === 0) return 0;
    const now = Date.now();
    this.debtBytes *= Math.exp(-(now - this.debtAt) / (DEBT_SECONDS * 1000));
    this.debtAt = now;
    if (this.debtBytes < 1024) this.debtBytes = 0;
    return this.debtBytes;
  }

  private addDebt(bytes: number): void {
    this.debtBytes = this.debt() + bytes;
    this.debtAt = Date.now();
  }

  /** Take `e` out of the budget (its connection closed or was upgraded). */
  remove(e: E): void {
    this.update(e, 0);
  }

  private drop(e: E, why: Eviction): void {
    this.update(e, 0);
    this.evict(e, why);
  }

  private largest(): E | undefined {
    let best: E | undefined;
    for (const e of this.reading) if (!best || e.held > best.held) best = e;
    return best;
  }

  private oldest(): E {
    let best: E | undefined;
    for (const e of this.reading) if (!best || e.since < best.since) best = e;
    return best!;
  }

  private startTimer(): void {
    const t = this.limits.timeoutMs;
    if (this.timer || t <= 0) return;
    this.timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, t / 4)));
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Evict every head older than `header_timeout`. */
  private sweep(): void {
    const cutoff = Date.now() - this.limits.timeoutMs;
    for (const e of [...this.reading]) if (e.since <= cutoff) this.drop(e, "header_timeout");
  }
}
