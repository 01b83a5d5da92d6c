/**
 * The arbiter's pidfile (Gunicorn's `pidfile` / `gunicorn/pidfile.py`): refuses to start when the
 * file names a live process, writes atomically, and is removed at exit only if it still holds
 * our PID (a re-exec'd arbiter may have taken it over).
 */
import fs from "node:fs";
import path from "node:path";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Write `pid` to `file`.
 * @throws Error naming `pidfile` when another live process owns the file or it cannot be written.
 */
export function writePidfile(file: string, pid = process.pid): void {
  try {
    const old = Number(fs.readFileSync(file, "utf8").trim());
    if (Number.isInteger(old) && old > 0 && old !== pid && old !== process.ppid && alive(old)) {
      throw new Error(`pidfile: already running on PID ${old} (or pid file ${file} is stale)`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${pid}.tmp`);
  try {
    fs.writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (e) {
    throw new Error(`pidfile: cannot write ${file}: ${(e as Error).message}`);
  }
}

/** Remove `file` if it holds `pid`. */
export function removePidfile(file: string, pid = process.pid): void {
  try {
    if (Number(fs.readFileSync(file, "utf8").trim()) === pid) fs.unlinkSync(file);
  } catch {
    /* gone or unreadable */
  }
}
