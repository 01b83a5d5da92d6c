/**
 * `prodserver serve`: start-up of the arbiter, as Gunicorn's `Arbiter.start()` — resolve the
 * settings (config file, env, argv), validate what the workers will need (user/group, TLS),
 * bind the listeners (or take systemd's, or inherit a re-exec'd parent's), write the pidfile,
 * then hand over to the {@link Arbiter}. Exit codes: 0 clean stop, 1 bad configuration or
 * usage, 3 a worker failed to boot, 4 the app failed to load.
 */
import fs from "node:fs";
import path from "node:path";
import { resolveOwner, tlsOptions } from "../owner.js";
import { AppLoadError, loadExport, parseAppSpec } from "../worker/app-loader.js";
import { AppSignals } from "../worker/app-signals.js";
import { startApp } from "../worker/app-start.js";
import { ListenCapture } from "../worker/listen-capture.js";
import { UsageError, procName, resolveSettings } from "../config.js";
import { bindAll, closeAll, slotHandle, type Listener } from "../listeners.js";
import { APP_LOAD_ERROR } from "../protocol.js";
import { LogFile, Logger } from "../log.js";
import { SettingError, type Setting, type Settings } from "../settings.js";
import { callHook, type Hooks } from "../hooks.js";
import { VERSION } from "../version.js";
import { Arbiter } from "./arbiter.js";
import { Notifier, takeListenFds } from "./systemd.js";
import { writePidfile } from "./pidfile.js";
import { Reexec, takeInherited } from "./reexec.js";

/** Usage of the runtime's commands (the top of `serve --help`). */
export const USAGE = `usage: prodserver serve [APP [ARG...]] [--bind ADDR]... [--workers N|auto] [--config FILE] [options]
       prodserver healthcheck [--url URL] [--timeout SECONDS]
APP is module#export or module#factory() (serve that export), or module [ARG...] / bin [ARG...]
(run it as \`node module ARG...\` would and serve the server it starts on PORT: listen mode),
relative to the working directory. Put \`--\` before APP when its arguments look like flags.
Run \`prodserver serve --help\` for every option.`;

/** Start-up stops: `code` is the exit code; the message names the setting or file. */
class StartError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "StartError";
  }
}

/** `serve --help`: the usage, then every setting of the registry with its flags and default. */
async function printHelp(): Promise<number> {
  const { SETTINGS } = await import("../settings.js");
  const lines = (SETTINGS as readonly Setting[]).map((s) => {
    const dflt = s.defaultDoc ?? JSON.stringify(typeof s.default === "function" ? null : s.default);
    return `  ${s.flags.join(", ")}${s.short ? `, -${s.short}` : ""}${s.unit ? ` (${s.unit})` : ""}  [default: ${dflt}]\n      ${s.doc}`;
  });
  process.stdout.write(`${USAGE}\n\noptions:\n${lines.join("\n")}\n`);
  return 0;
}

/**
 * Run `prodserver serve ARGS`; `entry` is the script workers are forked from. Resolves with
 * the exit code (a configuration error is printed, not thrown).
 */
export async function serve(args: string[], entry: string): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) return printHelp();
  const startDir = process.cwd(); // the config file and chdir are relative to it, also on HUP
  const resolveNow = () => resolveSettings(args, process.env, startDir);
  let settings: Settings;
  let hooks: Hooks;
  let errorFile: LogFile;
  let log: Logger;
  try {
    ({ settings, hooks } = await resolveAndCheck(resolveNow, startDir));
    if (settings.print_config) return printConfig(settings);
    ({ errorFile, log } = openArbiterLog(settings));
  } catch (e) {
    if (!(e instanceof StartError)) throw e;
    process.stderr.write(`prodserver serve: ${e.message}\n`);
    return e.code;
  }
  if (settings.check_config) return checkConfig(settings, log);
  log.info(`Starting prodserver ${VERSION}`);
  const preloadFailed = settings.preload_app ? await preload(settings.app!, log) : null;
  if (preloadFailed !== null) return preloadFailed;
  await callHook(hooks, "on_starting", log, [{ pid: process.pid, settings, log, workers: () => [] }]);
  const notifier = new Notifier(log);
  let bound: Bound;
  try {
    bound = await bindListeners(settings, log);
  } catch (e) {
    log.error((e as Error).message);
    return 1;
  }
  const { listeners, fdBinds, reexec } = bound;
  log.info(`Using worker: node:http; app ${settings.app}; name ${procName(settings)}`);
  const arbiter = new Arbiter({
    entry,
    settings,
    listeners,
    log,
    reloadSettings: async () => {
      const next = await resolveNow();
      // Socket activation replaces `bind`, also across HUP reloads.
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

/**
 * Resolve the settings and check what workers will need before anything starts: user/group
 * exist, TLS files readable, `chdir` done, an app given. @throws StartError (exit 1).
 */
async function resolveAndCheck(resolveNow: () => Promise<{ settings: Settings; hooks: Hooks }>, startDir: string): Promise<{ settings: Settings; hooks: Hooks }> {
  let r: { settings: Settings; hooks: Hooks };
  try {
    r = await resolveNow();
  } catch (e) {
    if (e instanceof SettingError || e instanceof UsageError) throw new StartError(1, e.message);
    throw e;
  }
  const { settings } = r;
  try {
    resolveOwner(settings.user, settings.group, "the resolved settings");
    tlsOptions(settings);
  } catch (e) {
    throw new StartError(1, (e as Error).message);
  }
  if (settings.print_config) return r;
  if (settings.chdir) {
    try {
      process.chdir(path.resolve(startDir, settings.chdir));
    } catch (e) {
      throw new StartError(1, `chdir: cannot change to ${settings.chdir}: ${(e as Error).message}`);
    }
  }
  if (!settings.app) throw new StartError(1, `app: no app given; pass APP (module#export) or set "app" in the config file`);
  return r;
}

/** `--print-config`: the resolved settings as JSON. */
function printConfig(settings: Settings): number {
  const { print_config: _p, check_config: _c, ...shown } = settings;
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  return 0;
}

/** The arbiter's error log; the access log file is created now so a bad path fails start-up. @throws StartError */
function openArbiterLog(settings: Settings): { errorFile: LogFile; log: Logger } {
  try {
    const errorFile = new LogFile(settings.errorlog, 2, "errorlog");
    if (settings.accesslog && settings.accesslog !== "-") new LogFile(settings.accesslog, 1, "accesslog").close();
    return { errorFile, log: new Logger(errorFile, settings.loglevel, settings.log_format, "arbiter") };
  } catch (e) {
    throw new StartError(1, (e as Error).message);
  }
}

/**
 * `--check-config` (Gunicorn's): start the app once in this process — an export is imported; a
 * program is run with its listens captured (never bound) until it serves or fails — then report:
 * 0 when it loads, 1 with its error otherwise.
 */
async function checkConfig(settings: Settings, log: Logger): Promise<number> {
  try {
    new AppSignals().install();
    const bindPort = settings.bind.map((b) => /:(\d+)$/.exec(b)?.[1]).find(Boolean);
    const capture = new ListenCapture({ address: "0.0.0.0", family: "IPv4", port: Number(bindPort ?? process.env.PORT ?? 8000) }, [], log, settings.app_port);
    capture.install();
    await startApp(settings.app!, capture, (settings.timeout > 0 ? settings.timeout : 30) * 1000, log);
    process.stdout.write("configuration OK\n");
    return 0;
  } catch (e) {
    const cause = (e as { cause?: Error }).cause;
    process.stderr.write(`prodserver serve: ${(e as Error).message}\n${e instanceof AppLoadError && cause?.stack ? `${cause.stack}\n` : ""}`);
    return 1;
  }
}

/**
 * Gunicorn's preload_app: import the app's export once in the arbiter, so a broken app stops
 * start-up before any fork. Only the export form (`module#export`): a program would start its
 * server and its signal handlers in the arbiter. Returns the exit code to stop with, or null.
 */
async function preload(app: string, log: Logger): Promise<number | null> {
  if (parseAppSpec(app).kind !== "export") {
    log.error(`preload_app: the app ${JSON.stringify(app)} is run as a program; preload_app imports an export (module#export) only. Turn preload_app off or name the export.`);
    return 1;
  }
  try {
    await loadExport(app);
    return null;
  } catch (e) {
    const cause = (e as { cause?: Error }).cause;
    log.error(`App failed to load (preload_app): ${(e as Error).message}`, { stack: cause?.stack ?? (e instanceof AppLoadError ? undefined : (e as Error).stack) });
    return APP_LOAD_ERROR;
  }
}

interface Bound {
  listeners: Listener[];
  /** `fd://N` binds from systemd socket activation (empty without it). */
  fdBinds: string[];
  reexec: Reexec;
}

/**
 * Bind the listeners: systemd's sockets (LISTEN_FDS) replace `bind`; sockets inherited from a
 * re-exec'd parent are adopted; then the pidfile. @throws Error naming the bind or the pidfile.
 */
async function bindListeners(settings: Settings, log: Logger): Promise<Bound> {
  const fdBinds = takeListenFds().map((fd) => `fd://${fd}`);
  const inherited = takeInherited();
  const reexec = new Reexec(log, settings.pidfile, inherited.parent);
  if (fdBinds.length) log.info(`Using ${fdBinds.length} socket(s) from systemd socket activation (LISTEN_FDS) instead of bind`);
  if (inherited.fds.size) log.info(`Inheriting ${inherited.fds.size} socket(s) from arbiter ${inherited.parent ?? "(gone)"} (USR2 re-exec)`);
  const listeners = await bindAll(fdBinds.length ? fdBinds : settings.bind, settings.umask, inherited.fds, settings.reuse_port);
  const used = new Set(listeners.map((l) => l.bind));
  for (const [b, fds] of inherited.fds) if (!used.has(b)) for (const fd of fds) fs.closeSync(fd); // the new config dropped that address
  if (fdBinds.length) settings.bind = fdBinds;
  try {
    // reuse_port: a socket per worker slot now, so a bind error shows at start, not at a fork.
    for (const l of listeners) slotHandle(l, settings.workers - 1);
    const pidfile = reexec.pidfilePath();
    if (pidfile) writePidfile(pidfile);
  } catch (e) {
    closeAll(listeners);
    throw e;
  }
  for (const l of listeners)
    log.info(`Listening at: ${settings.certfile ? l.url.replace(/^http:/, "https:") : l.url} (${process.pid})${l.slots ? " (reuse_port: one SO_REUSEPORT socket per worker slot)" : ""}`);
  return { listeners, fdBinds, reexec };
}
