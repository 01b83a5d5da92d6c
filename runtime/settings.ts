/**
 * The settings registry: every runtime setting is defined exactly once here, as Gunicorn's
 * `config.py` does (`KNOWN_SETTINGS`). The `prodserver serve` flags, `PRODSERVER_CMD_ARGS`, the
 * environment variables, the `processes.web` part of the project description, `--print-config`,
 * the JSON Schema and the README's settings table are all derived from {@link SETTINGS}.
 *
 * This module imports nothing but node built-ins: `src/description` imports it, and it is
 * bundled into images on its own.
 */
import os from "node:os";
import fs from "node:fs";

/** Raised when a setting's value is invalid; `setting` names the setting, `source` where it came from. */
export class SettingError extends Error {
  constructor(
    readonly setting: string,
    readonly source: string,
    message: string,
  ) {
    super(`${setting}${source ? ` (from ${source})` : ""}: ${message}`);
    this.name = "SettingError";
  }
}

/** The value kinds a setting can take; they drive parsing of flags/env and the JSON Schema. */
export type SettingType = "int" | "number" | "string" | "boolean" | "list" | "enum";

/** One setting. `T` is the resolved value's type. */
export interface Setting<T = unknown> {
  /** snake_case name, as in Gunicorn's config (`graceful_timeout`); also the config-file key. */
  readonly name: string;
  /** Section heading used to group the generated docs (Gunicorn's section names). */
  readonly section: string;
  /** Long CLI flag(s), e.g. `["--graceful-timeout"]`; the first is canonical. */
  readonly flags: readonly string[];
  /** One-letter alias, e.g. `"w"` for `-w`. */
  readonly short?: string;
  /** Environment variable read for this setting (besides PRODSERVER_CMD_ARGS), e.g. `WEB_CONCURRENCY`. */
  readonly env?: readonly string[];
  /**
   * The raw value the environment layer contributes (config precedence: defaults < config file <
   * env < argv), or undefined when the environment says nothing. Defaults to the first set
   * variable of `env`. `bind` uses it to turn `PORT=3000` into `0.0.0.0:3000`.
   */
  readonly fromEnv?: (env: NodeJS.ProcessEnv) => unknown;
  readonly type: SettingType;
  /** For `enum`: the allowed values. */
  readonly choices?: readonly string[];
  /** Unit of a numeric value, stated in docs: "seconds", "bytes", "count". */
  readonly unit?: "seconds" | "bytes" | "count" | "octal mode";
  /** The default, or a function computing it from the environment at resolve time. */
  readonly default: T | ((env: NodeJS.ProcessEnv) => T);
  /** Text shown for the default in docs when `default` is a function. */
  readonly defaultDoc?: string;
  /** Validate and normalise a value (from a flag string, env string, or config-file value). */
  readonly validate: (value: unknown, source: string) => T;
  /** One-line description. */
  readonly doc: string;
  /** The Gunicorn setting this mirrors, when there is one. */
  readonly gunicorn?: string;
  /** False for settings that make no sense in the project description (e.g. print_config). */
  readonly inDescription?: boolean;
}

// ---------------------------------------------------------------------------------- validators

function intIn(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (name: string) =>
    (value: unknown, source: string): number => {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n)) {
        throw new SettingError(name, source, `expected an integer, got ${JSON.stringify(value)}`);
      }
      if (n < min || n > max) {
        throw new SettingError(name, source, `must be between ${min} and ${max}, got ${n}`);
      }
      return n;
    };
}

function numberIn(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (name: string) =>
    (value: unknown, source: string): number => {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isFinite(n)) {
        throw new SettingError(name, source, `expected a number, got ${JSON.stringify(value)}`);
      }
      if (n < min || n > max) {
        throw new SettingError(name, source, `must be between ${min} and ${max}, got ${n}`);
      }
      return n;
    };
}

function bool(name: string) {
  return (value: unknown, source: string): boolean => {
    if (typeof value === "boolean") return value;
    if (typeof value === "string") {
      const v = value.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
    }
    throw new SettingError(name, source, `expected true or false, got ${JSON.stringify(value)}`);
  };
}

function str(name: string, opts: { nullable?: boolean; pattern?: RegExp; what?: string } = {}) {
  return (value: unknown, source: string): string | null => {
    if (value === null || value === undefined) {
      if (opts.nullable) return null;
      throw new SettingError(name, source, "a value is required");
    }
    if (typeof value !== "string") {
      throw new SettingError(name, source, `expected a string, got ${JSON.stringify(value)}`);
    }
    if (value.includes("\0")) throw new SettingError(name, source, "must not contain NUL");
    if (opts.pattern && !opts.pattern.test(value)) {
      throw new SettingError(name, source, `expected ${opts.what ?? opts.pattern}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
}

function oneOf<C extends string>(name: string, choices: readonly C[]) {
  return (value: unknown, source: string): C => {
    if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as C;
    throw new SettingError(name, source, `expected one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
  };
}

/**
 * Parse one bind address, as Gunicorn's `bind`: `HOST:PORT`, `[V6]:PORT`, `PORT`, `unix:PATH`,
 * `unix:PATH:MODE`? (mode via the `umask` setting), or `fd://N`. Throws SettingError naming `bind`.
 */
export function parseBind(value: string, source = ""): Bind {
  const fail = (why: string): never => {
    throw new SettingError("bind", source, `${why}: ${JSON.stringify(value)}`);
  };
  if (value.includes("\0") || /\s/.test(value)) fail("a bind address has no spaces or NUL");
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length);
    if (!path) fail("unix: needs a socket path");
    if (Buffer.byteLength(path) > 107) fail("a unix socket path is at most 107 bytes");
    return { kind: "unix", path };
  }
  if (value.startsWith("fd://")) {
    const fd = Number(value.slice("fd://".length));
    if (!Number.isInteger(fd) || fd < 0) fail("fd:// needs a non-negative file descriptor number");
    return { kind: "fd", fd };
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(value);
  if (v6) {
    host = v6[1];
    portText = v6[2] ?? "8000";
  } else if (/^\d+$/.test(value)) {
    host = "0.0.0.0";
    portText = value;
  } else {
    const i = value.lastIndexOf(":");
    if (i === -1) {
      host = value;
      portText = "8000";
    } else {
      host = value.slice(0, i);
      portText = value.slice(i + 1);
    }
    if (host.includes(":")) fail("an IPv6 address goes in brackets, like [::1]:8000");
    if (!/^[A-Za-z0-9.-]+$/.test(host)) fail("not a valid host name or address");
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) fail("the port must be 0-65535");
  return { kind: "tcp", host, port };
}

/** A parsed listen address. */
export type Bind =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "fd"; fd: number };

/** Format a Bind back to its string form (inverse of {@link parseBind}). */
export function formatBind(b: Bind): string {
  if (b.kind === "unix") return `unix:${b.path}`;
  if (b.kind === "fd") return `fd://${b.fd}`;
  return b.host.includes(":") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

/**
 * CPUs this process may really use: the cgroup v2 `cpu.max` (or v1 `cpu.cfs_quota_us`) quota,
 * capped by the affinity mask (`os.availableParallelism()`); at least 1. Unlike `os.cpus()`,
 * which counts the host's CPUs (PM2 #4347).
 */
export function usableCpus(): number {
  let n = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, "utf8").trim();
    } catch {
      return null;
    }
  };
  const v2 = read("/sys/fs/cgroup/cpu.max");
  if (v2) {
    const [quota, period] = v2.split(/\s+/);
    if (quota !== "max" && Number(period) > 0) n = Math.min(n, Math.ceil(Number(quota) / Number(period)));
  } else {
    const quota = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") ?? -1);
    const period = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") ?? 0);
    if (quota > 0 && period > 0) n = Math.min(n, Math.ceil(quota / period));
  }
  return Math.max(1, n);
}

function workers(value: unknown, source: string): number {
  if (value === "auto") return usableCpus();
  return intIn(1, 1024)("workers")(value, source);
}

function binds(value: unknown, source: string): string[] {
  const list = Array.isArray(value) ? value : typeof value === "string" ? [value] : null;
  if (!list || list.length === 0) throw new SettingError("bind", source, "expected one or more addresses");
  return list.map((v) => {
    if (typeof v !== "string") throw new SettingError("bind", source, `expected a string, got ${JSON.stringify(v)}`);
    parseBind(v, source);
    return v;
  });
}

// ---------------------------------------------------------------------------------- the registry

/** Define a setting; `validate` is built by `mk(name)` so errors always name the setting. */
function def<T, N extends string>(
  s: Omit<Setting<T>, "validate" | "name"> & { name: N; validate: (name: string) => (v: unknown, source: string) => T },
): Setting<T> & { readonly name: N } {
  return { ...s, validate: s.validate(s.name) };
}

const port = (env: NodeJS.ProcessEnv) => (env.PORT && /^\d+$/.test(env.PORT) ? Number(env.PORT) : null);

/**
 * Every runtime setting, in documentation order. Add new settings here and nowhere else.
 * Names and semantics follow Gunicorn 26 (`gunicorn/config.py`) where Gunicorn has the setting.
 */
export const SETTINGS = [
  def<string | null, "config">({
    name: "config",
    section: "Config File",
    flags: ["--config"],
    short: "c",
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true, pattern: /\.(json|mjs|js)$/, what: "a .json, .mjs or .js file" }),
    doc: "Settings file read before the environment and the command line: `.json` (an object of settings) or `.mjs` (`export default {...}` or `export const settings`).",
    gunicorn: "config",
    inDescription: false,
  }),
  def<string | null, "app">({
    name: "app",
    section: "App",
    flags: ["--app"],
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true, pattern: /^[^#:\s]+([#:][A-Za-z_$][\w$]*(\(\))?)?$/, what: "module#export or module#factory()" }),
    doc: "The app to serve: `module#export`, `module#factory()` or `module` (default export). Also the positional argument.",
    gunicorn: "wsgi_app",
  }),
  def<string[], "bind">({
    name: "bind",
    section: "Server Socket",
    flags: ["--bind"],
    short: "b",
    type: "list",
    default: (env) => [port(env) !== null ? `0.0.0.0:${port(env)}` : "127.0.0.1:8000"],
    defaultDoc: "`127.0.0.1:8000`, or `0.0.0.0:$PORT` when `PORT` is set",
    env: ["PORT"],
    fromEnv: (env) => (env.PORT !== undefined && env.PORT !== "" ? [`0.0.0.0:${env.PORT}`] : undefined),
    validate: () => binds,
    doc: "Address to listen on, repeatable: `HOST:PORT`, `[V6]:PORT`, `unix:PATH`, `fd://N`.",
    gunicorn: "bind",
  }),
  def<number, "backlog">({
    name: "backlog",
    section: "Server Socket",
    flags: ["--backlog"],
    type: "int",
    unit: "count",
    default: 2048,
    validate: intIn(1, 65535),
    doc: "Maximum number of pending connections (listen(2) backlog).",
    gunicorn: "backlog",
  }),
  def<number, "workers">({
    name: "workers",
    section: "Worker Processes",
    flags: ["--workers"],
    short: "w",
    env: ["WEB_CONCURRENCY"],
    type: "int",
    unit: "count",
    default: (env) => (env.WEB_CONCURRENCY && /^\d+$/.test(env.WEB_CONCURRENCY) ? Number(env.WEB_CONCURRENCY) : 1),
    defaultDoc: "`$WEB_CONCURRENCY`, else 1",
    validate: () => workers,
    doc: "Number of worker processes; `auto` = the CPUs the cgroup quota and affinity allow.",
    gunicorn: "workers",
  }),
  def<number, "timeout">({
    name: "timeout",
    section: "Worker Processes",
    flags: ["--timeout"],
    short: "t",
    type: "number",
    unit: "seconds",
    default: 30,
    validate: numberIn(0, 86400),
    doc: "A worker whose event loop sends no heartbeat for this long is killed and replaced; 0 disables.",
    gunicorn: "timeout",
  }),
  def<number, "graceful_timeout">({
    name: "graceful_timeout",
    section: "Worker Processes",
    flags: ["--graceful-timeout"],
    type: "number",
    unit: "seconds",
    default: 30,
    validate: numberIn(0, 86400),
    doc: "After SIGTERM (or a reload/recycle), seconds workers get to finish in-flight requests before SIGKILL.",
    gunicorn: "graceful_timeout",
  }),
  def<number, "keepalive">({
    name: "keepalive",
    section: "Worker Processes",
    flags: ["--keep-alive"],
    type: "number",
    unit: "seconds",
    default: 5,
    validate: numberIn(0, 3600),
    doc: "Seconds to wait for the next request on a keep-alive connection (Node's keepAliveTimeout); 0 disables keep-alive.",
    gunicorn: "keepalive",
  }),
  def<number, "umask">({
    name: "umask",
    section: "Server Mechanics",
    flags: ["--umask"],
    short: "m",
    type: "int",
    unit: "octal mode",
    default: 0,
    validate: (n) => (value: unknown, source: string) => {
      const v = typeof value === "string" && /^0[oO]?[0-7]+$/.test(value.trim()) ? parseInt(value.trim().replace(/^0[oO]?/, ""), 8) : value;
      return intIn(0, 0o777)(n)(v, source);
    },
    doc: "Mask applied to the permissions of unix sockets the arbiter creates (0 = 0666, world-connectable; `0o007` = owner and group only). Octal as `0o022` or `022`.",
    gunicorn: "umask",
  }),
  def<string | null, "accesslog">({
    name: "accesslog",
    section: "Logging",
    flags: ["--access-logfile"],
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true }),
    doc: "Access log file; `-` = stdout; unset = no access log.",
    gunicorn: "accesslog",
  }),
  def<string, "access_log_format">({
    name: "access_log_format",
    section: "Logging",
    flags: ["--access-logformat"],
    type: "string",
    default: '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
    validate: (n) => str(n) as (v: unknown, s: string) => string,
    doc: "Access log line format, with Gunicorn's atoms (`%(h)s`, `%(r)s`, `%(s)s`, `%(D)s`, `%({header}i)s`, ...).",
    gunicorn: "access_log_format",
  }),
  def<"text" | "json", "log_format">({
    name: "log_format",
    section: "Logging",
    flags: ["--log-format"],
    type: "enum",
    choices: ["text", "json"],
    default: "text",
    validate: (n) => oneOf(n, ["text", "json"] as const),
    doc: "Log line format for the access and error logs: `text`, or `json` (one object per line).",
  }),
  def<string, "errorlog">({
    name: "errorlog",
    section: "Logging",
    flags: ["--error-logfile", "--log-file"],
    type: "string",
    default: "-",
    validate: (n) => str(n) as (v: unknown, s: string) => string,
    doc: "Error log file; `-` = stderr.",
    gunicorn: "errorlog",
  }),
  def<"debug" | "info" | "warning" | "error" | "critical", "loglevel">({
    name: "loglevel",
    section: "Logging",
    flags: ["--log-level"],
    type: "enum",
    choices: ["debug", "info", "warning", "error", "critical"],
    default: "info",
    validate: (n) => oneOf(n, ["debug", "info", "warning", "error", "critical"] as const),
    doc: "The granularity of error log output.",
    gunicorn: "loglevel",
  }),
  def<string | null, "proc_name">({
    name: "proc_name",
    section: "Process Naming",
    flags: ["--name"],
    short: "n",
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true, pattern: /^[\w.@+-]{1,64}$/, what: "1-64 characters of [A-Za-z0-9_.@+-]" }),
    doc: "Name shown in process titles: `prodserver: arbiter [NAME]`, `prodserver: worker [NAME]`.",
    gunicorn: "proc_name",
  }),
  def<boolean, "check_config">({
    name: "check_config",
    section: "Debugging",
    flags: ["--check-config"],
    type: "boolean",
    default: false,
    validate: bool,
    doc: "Validate the configuration and exit (0 valid, 1 invalid).",
    gunicorn: "check_config",
    inDescription: false,
  }),
  def<boolean, "print_config">({
    name: "print_config",
    section: "Debugging",
    flags: ["--print-config"],
    type: "boolean",
    default: false,
    validate: bool,
    doc: "Print the fully resolved configuration as JSON and exit.",
    gunicorn: "print_config",
    inDescription: false,
  }),
] as const satisfies readonly Setting<any>[];

/** The resolved configuration: one key per setting name. */
export type Settings = {
  [S in (typeof SETTINGS)[number] as S["name"]]: S extends Setting<infer T> ? T : never;
};

/** Look a setting up by name; undefined when unknown. */
export function findSetting(name: string): Setting | undefined {
  return (SETTINGS as readonly Setting[]).find((s) => s.name === name);
}

/** The default value of every setting, computed against `env` (PORT, WEB_CONCURRENCY, ...). */
export function defaults(env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS as readonly Setting[]) {
    out[s.name] = typeof s.default === "function" ? (s.default as (e: NodeJS.ProcessEnv) => unknown)(env) : s.default;
  }
  return out as Settings;
}
