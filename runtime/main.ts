/**
 * Entry point of the runtime: `prodserver serve ...` and `prodserver healthcheck ...`.
 * Runs itself when executed directly (`node dist/runtime/main.js serve ...` or, in images,
 * `node /opt/prodserver/prodserver.mjs serve ...` — the esbuild bundle); the CLI imports
 * {@link main} and delegates to it. Workers are this same file run as `node ENTRY __worker`.
 *
 * Exit codes: 0 clean stop; 1 bad configuration/usage (or an unhealthy health check);
 * 3 a worker failed to boot; 4 the app failed to load (Gunicorn's WORKER_BOOT_ERROR/APP_LOAD_ERROR).
 */
import fs from "node:fs";
import url from "node:url";
import { USAGE, serve } from "./arbiter/start.js";
import { healthcheck } from "./healthcheck.js";
import { runWorker } from "./worker/worker.js";

export { VERSION } from "./version.js";

/** This module's file: what workers are forked from (dist/runtime/main.js or the bundle). */
export const ENTRY = url.fileURLToPath(import.meta.url);

/**
 * Run a subcommand; resolves with the process exit code.
 * `argv` excludes node and the script, e.g. `["serve", "app.js#app", "--workers", "2"]`.
 */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "serve":
      return serve(rest, ENTRY);
    case "healthcheck":
      return healthcheck(rest);
    case "__worker":
      return runWorker();
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${cmd === undefined ? "missing subcommand" : `unknown subcommand ${JSON.stringify(cmd)}`}\n${USAGE}\n`);
      return 1;
  }
}

/** True when this module is the process's main script (not imported by the CLI or a test). */
export function isMainModule(argv1: string | undefined = process.argv[1], self: string = ENTRY): boolean {
  if (!argv1) return false;
  try {
    return fs.realpathSync(argv1) === fs.realpathSync(self);
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`prodserver: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
