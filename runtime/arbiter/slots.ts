/**
 * Worker slots: each worker has a place 0..workers-1 that its replacement takes over (PM2 calls
 * it the instance id). With reuse_port a slot is also a SO_REUSEPORT socket the arbiter holds
 * (listeners.ts `slotHandle`), so the slot a worker lands in decides which connections it gets.
 */
import { migrateReqEnabled, trimSlots, type Listener } from "../listeners.js";
import type { Logger } from "../log.js";
import type { WorkerRec } from "./worker-record.js";

/**
 * The slot for a new worker of `generation`: the lowest below `target` with the fewest booting
 * or serving workers of that generation — the slot of the worker it replaces (a recycling
 * worker's, a dead one's, the old generation's on reload).
 */
export function freeSlot(workers: Iterable<WorkerRec>, generation: number, target: number): number {
  const used = new Array<number>(target).fill(0);
  for (const w of workers) if (w.generation === generation && (w.state === "booting" || w.state === "serving") && w.slot < target) used[w.slot]++;
  return used.indexOf(Math.min(...used));
}

/**
 * TTOU's order of retirement: the oldest first, as Gunicorn's; with reuse_port (`bySlot`) the
 * workers in slots at or beyond `target` go first, since a lower slot left without its worker
 * would keep its socket's connections waiting, and a surplus slot's socket can close.
 */
export function retireOrder(target: number, bySlot: boolean): (a: WorkerRec, b: WorkerRec) => number {
  return (a, b) => (bySlot ? Number(b.slot >= target) - Number(a.slot >= target) : 0) || a.age - b.age;
}

/**
 * reuse_port: close the sockets of slots at or beyond `target` that none of `workers` (any state:
 * a retiring worker still drains on its socket) uses any more, warning when the kernel resets
 * what was queued on them (`net.ipv4.tcp_migrate_req` not 1).
 */
export function closeSurplusSlots(listeners: readonly Listener[], workers: Iterable<WorkerRec>, target: number, log: Logger): void {
  const inUse = Math.max(target, ...[...workers].map((w) => w.slot + 1));
  for (const l of listeners) {
    const n = trimSlots(l, inUse);
    if (n && migrateReqEnabled() !== true)
      log.warning(`reuse_port: closed ${n} socket(s) of ${l.url} left without a worker; any connection still queued on them was reset (net.ipv4.tcp_migrate_req is not 1)`);
  }
}
