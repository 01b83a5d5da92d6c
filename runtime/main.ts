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
import path from "node:path";
import url from "node:url";
import { resolveOwner, tlsOptions } from "./owner.js";
import { Arbiter } from "./arbiter.js";
import { AppLoadError, loadApp } from "./app-loader.js";
import { UsageError, procName, resolveSettings } from "./config.js";
import { healthcheck } from "./healthcheck.js";
import { bindAll, closeAll, migrateReqEnabled } from "./listeners.js";
import { LogFile, Logger } from "./log.js";
import { SettingError, type Setting, type Settings } from "./settings.js";
import { runWorker } from "./worker.js";
import { callHook, type Hooks } from "./hooks.js";
import { Notifier, takeListenFds } from "./systemd.js";
import { writePidfile } from "./pidfile.js";
import { Reexec, takeInherited } from "./reexec.js";

/** The runtime's version, printed at start (kept in step with package.json). */
export const VERSION = "0.1.0";

/** This module's file: what workers are forked from (dist/runtime/main.js or the bundle). */
export const ENTRY = url.fileURLToPath(import.meta.url);

const USAGE = `usage: prodserver serve [APP] [--bind ADDR]... [--workers N|auto] [--config FILE] [options]
       prodserver healthcheck [--url URL] [--timeout SECONDS]
APP is module#export, module#factory() or module (default export), relative to the working directory.
Run \`prodserver serve --help\` for every option.`;

function serveHelp(): string {
  return USAGE;
}

/**
 * Run a subcommand; resolves with the process exit code.
 * `argv` excludes node and the script, e.g. `["serve", "app.js#app", "--workers", "2"]`.
 */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "serve":
      return serve(rest);
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

async function serve(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    const { SETTINGS } = await import("./settings.js");
    const lines = (SETTINGS as readonly Setting[]).map((s) => {
      const dflt = s.defaultDoc ?? JSON.stringify(typeof s.default === "function" ? null : s.default);
      return `  ${s.flags.join(", ")}${s.short ? `, -${s.short}` : ""}${s.unit ? ` (${s.unit})` : ""}  [default: ${dflt}]\n      ${s.doc}`;
    });
    process.stdout.write(`${serveHelp()}\n\noptions:\n${lines.join("\n")}\n`);
    return 0;
  }
  const startDir = process.cwd(); // the config file and chdir are relative to it, also on HUP
  const resolveNow = () => resolveSettings(args, process.env, startDir);
  let settings: Settings;
  let hooks: Hooks;
  try {
    ({ settings, hooks } = await resolveNow());
  } catch (e) {
    if (e instanceof SettingError || e instanceof UsageError) {
      process.stderr.write(`prodserver serve: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  try {
    resolveOwner(settings.user, settings.group, "the resolved settings");
    tlsOptions(settings);
  } catch (e) {
    process.stderr.write(`prodserver serve: ${(e as Error).message}\n`);
    return 1;
  }
  if (settings.print_config) {
    const { print_config: _p, check_config: _c, ...shown } = settings;
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return 0;
  }
  if (settings.chdir) {
    try {
      process.chdir(path.resolve(startDir, settings.chdir));
    } catch (e) {
      process.stderr.write(`prodserver serve: chdir: cannot change to ${settings.chdir}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (!settings.app) {
    process.stderr.write(`prodserver serve: app: no app given; pass APP (module#export) or set "app" in the config file\n`);
    return 1;
  }
  let errorFile: LogFile;
  let log: Logger;
  try {
    errorFile = new LogFile(settings.errorlog, 2, "errorlog");
    if (settings.accesslog && settings.accesslog !== "-") new LogFile(settings.accesslog, 1, "accesslog").close();
    log = new Logger(errorFile, settings.loglevel, settings.log_format, "arbiter");
  } catch (e) {
    process.stderr.write(`prodserver serve: ${(e as Error).message}\n`);
    return 1;
  }
  if (settings.check_config) {
    try {
      await loadApp(settings.app);
      process.stdout.write("configuration OK\n");
      return 0;
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      process.stderr.write(`prodserver serve: ${(e as Error).message}\n${e instanceof AppLoadError && cause?.stack ? `${cause.stack}\n` : ""}`);
      return 1;
    }
  }
  log.info(`Starting prodserver ${VERSION}`);
  if (settings.preload_app) {
    // Gunicorn's preload_app: import once in the arbiter, so a broken app stops start-up before any fork.
    try {
      await loadApp(settings.app);
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      log.error(`App failed to load (preload_app): ${(e as Error).message}`, { stack: cause?.stack ?? (e instanceof AppLoadError ? undefined : (e as Error).stack) });
      return 4;
    }
  }
  await callHook(hooks, "on_starting", log, [{ pid: process.pid, settings, log, workers: () => [] }]);
  const notifier = new Notifier(log);
  // Socket activation replaces `bind`, also across HUP reloads.
  const fdBinds = takeListenFds().map((fd) => `fd://${fd}`);
  const inherited = takeInherited();
  const reexec = new Reexec(log, settings.pidfile, inherited.parent);
  let listeners;
  try {
    if (fdBinds.length) log.info(`Using ${fdBinds.length} socket(s) from systemd socket activation (LISTEN_FDS) instead of bind`);
    if (inherited.fds.size) log.info(`Inheriting ${inherited.fds.size} socket(s) from arbiter ${inherited.parent ?? "(gone)"} (USR2 re-exec)`);
    listeners = await bindAll(fdBinds.length ? fdBinds : settings.bind, settings.umask, inherited.fds, settings.reuse_port);
    const used = new Set(listeners.map((l) => l.bind));
    for (const [b, fd] of inherited.fds) if (!used.has(b)) fs.closeSync(fd); // the new config dropped that address
    if (fdBinds.length) settings.bind = fdBinds;
  } catch (e) {
    log.error((e as Error).message);
    return 1;
  }
  try {
    const pidfile = reexec.pidfilePath();
    if (pidfile) writePidfile(pidfile);
  } catch (e) {
    log.error((e as Error).message);
    closeAll(listeners);
    return 1;
  }
  for (const l of listeners) log.info(`Listening at: ${settings.certfile ? l.url.replace(/^http:/, "https:") : l.url} (${process.pid})${l.own ? " (reuse_port: one SO_REUSEPORT socket per worker)" : ""}`);
  if (listeners.some((l) => l.own) && migrateReqEnabled() !== true) {
    log.warning("reuse_port: net.ipv4.tcp_migrate_req is not 1, so connections still queued on a worker's own socket when it stops accepting (reload, recycle, TERM) are reset; set the sysctl to 1 (Linux 5.14+) for zero-failure reloads");
  }
  log.info(`Using worker: node:http; app ${settings.app}; name ${procName(settings)}`);
  const arbiter = new Arbiter({
    entry: ENTRY,
    settings,
    listeners,
    log,
    reloadSettings: async () => {
      const next = await resolveNow();
      if (fdBinds.length) next.settings.bind = fdBinds;
      return next;
    },
    hooks,
    reopenLogs: () => errorFile.reopen(),
    notifier,
    reexec: (ls, preExec) => reexec.start(ls, preExec),
    keepSocketFiles: () => reexec.childAlive(),
  });
  const watch = reexec.watchParent();
  const code = await arbiter.run();
  if (watch) clearInterval(watch);
  reexec.cleanup();
  return code;
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
