/**
 * File-descriptor exhaustion in a worker. When a worker has as many files and sockets open as its
 * soft `RLIMIT_NOFILE` allows, `accept(2)` fails with EMFILE and libuv accepts and closes each
 * waiting connection with a spare descriptor it keeps for that (`uv__emfile_trick`): clients are
 * reset and node reports nothing. So the worker counts its open descriptors (`/proc/self/fd`)
 * once a second and logs one error per burst — when the count reaches the limit, not again until
 * it fell below 90 % of it — counted in `prodserver_fd_exhaustion_total`. At start it warns when
 * `worker_connections` cannot fit under the limit. Linux only (elsewhere this does nothing).
 */
import fs from "node:fs";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";
import type { WorkerMetrics } from "./metrics.js";

/** How often the open descriptors are counted, in milliseconds. */
const CHECK_MS = 1000;

/** The soft limit on open files of this process, or null when unknown or unlimited. */
export function openFileLimit(limits = "/proc/self/limits"): number | null {
  try {
    const m = /^Max open files\s+(\d+)\s/m.exec(fs.readFileSync(limits, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of this process; Infinity when none is left to count them with; null without /proc. */
export function openFiles(): number | null {
  try {
    return fs.readdirSync("/proc/self/fd").length - 1; // minus the one reading the directory
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "EMFILE" || code === "ENFILE" ? Infinity : null;
  }
}

/** Start watching (call once the worker serves). */
export function watchFdLimit(settings: Settings, log: Logger, metrics: WorkerMetrics | null): void {
  const limit = openFileLimit();
  const base = openFiles();
  if (limit === null || base === null) return;
  if (settings.worker_connections + base > limit) {
    log.warning(
      `worker_connections (${settings.worker_connections}) plus the ${base} files this worker has open exceed its limit of ${limit} open files (ulimit -n, systemd LimitNOFILE, docker --ulimit nofile): connections beyond it will be reset`,
    );
  }
  let exhausted = false;
  setInterval(() => {
    const n = openFiles() ?? 0;
    if (!exhausted && n >= limit - 2) {
      exhausted = true;
      metrics?.fdExhausted();
      log.error(
        `Too many open files (EMFILE): ${Number.isFinite(n) ? n : limit} of ${limit} file descriptors in use; new connections are reset until some close. Raise the limit (ulimit -n, LimitNOFILE, docker --ulimit nofile) or lower worker_connections`,
      );
    } else if (exhausted && n < limit * 0.9) {
      exhausted = false;
      log.info(`File descriptors back under the limit: ${n} of ${limit} in use`);
    }
  }, CHECK_MS).unref();
}
