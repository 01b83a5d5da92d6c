/**
 * The settings registry: every runtime setting is defined exactly once here, as Gunicorn's
 * `config.py` does (`KNOWN_SETTINGS`). The `prodserver serve` flags, `PRODSERVER_CMD_ARGS`, the
 * environment variables, the `processes.web` part of the project description, `--print-config`,
 * the JSON Schema and the README's settings table are all derived from {@link SETTINGS}.
 *
 * This module imports nothing but node built-ins: `src/description` imports it, and it is
 * bundled into images on its own.
 */
import { SettingError, binds, bool, bytes, def, envList, intIn, ipList, numberIn, oneOf, str, workers, type Setting } from "./setting-kinds.js";

import { parseBind } from "./setting-kinds.js";
export { SettingError, formatBind, parseBind, usableCpus } from "./setting-kinds.js";
export type { Bind, Setting, SettingType } from "./setting-kinds.js";

// ---------------------------------------------------------------------------------- the registry

/** Loopback and the private ranges (RFC 1918, RFC 4193): `forwarded_allow_ips`'s default. */
export const PRIVATE_PEERS = "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

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
    doc: "Settings file read before the environment and the command line: `.json` (an object of settings) or `.mjs`/`.js` (`export default {...}` or `export const settings`, plus server hooks such as `export function when_ready(server)`).",
    gunicorn: "config",
    inDescription: false,
  }),
  def<string | null, "app">({
    name: "app",
    section: "App",
    flags: ["--app"],
    type: "string",
    default: null,
    validate: (n) =>
      str(n, {
        nullable: true,
        pattern: /^(?:[^#:\s]+[#:][A-Za-z_$][\w$]*(\(\))?|[^#\s\x00-\x1f]+(?:[ \t][^\x00-\x1f]*)?)$/,
        what: "module#export, module#factory(), module, or a program with arguments (`next start`)",
      }),
    doc: "The app to serve. `module#export` or `module#factory()`: import it and serve the export (a request listener, fetch handler or http.Server). `module` or `module ARG...` / `bin ARG...` (e.g. `build/index.js`, `next start`): run it as `node module ARG...` would; the server it starts on `PORT` is served on the arbiter's sockets (listen mode), or, if it starts none, its default export. Also the positional argument.",
    gunicorn: "wsgi_app",
  }),
  def<number | null, "app_port">({
    name: "app_port",
    section: "App",
    flags: ["--app-port"],
    type: "int",
    default: null,
    defaultDoc: "unset (only `PORT`)",
    validate: (n) => (v, source) => (v === null || v === undefined || v === "" ? null : intIn(1, 65535)(n)(v, source)),
    doc: "Listen mode: the port the app listens on when it does not read `PORT` (e.g. `app.listen(3000)`). Its listen() on this port is served on the bind sockets too, as one on `PORT` is.",
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
  def<boolean, "reuse_port">({
    name: "reuse_port",
    section: "Server Socket",
    flags: ["--reuse-port"],
    type: "boolean",
    default: false,
    validate: bool,
    doc: "Set SO_REUSEPORT and give each worker slot its own listening socket on every TCP bind, so the kernel spreads new connections evenly across workers by their address hash (as Gunicorn 24+ and nginx's `reuseport`) instead of letting whichever worker wakes first take them. The arbiter holds the sockets; a worker's replacement (reload, recycle, crash) accepts on its predecessor's socket, so reloads lose nothing. A connection hashed to a slot whose worker is down waits in that socket's backlog until the replacement is up. Needs Node.js >= 22.12 (or 23.1) on Linux; unix: and fd:// binds stay shared; after TTOU a surplus slot's socket closes (its queued connections are reset unless `net.ipv4.tcp_migrate_req=1`).",
    gunicorn: "reuse_port",
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
  def<number, "max_requests">({
    name: "max_requests",
    section: "Worker Processes",
    flags: ["--max-requests"],
    type: "int",
    unit: "count",
    default: 0,
    validate: intIn(0),
    doc: "Recycle a worker after it has served this many requests (0 = never); its replacement serves before it stops accepting.",
    gunicorn: "max_requests",
  }),
  def<number, "max_requests_jitter">({
    name: "max_requests_jitter",
    section: "Worker Processes",
    flags: ["--max-requests-jitter"],
    type: "int",
    unit: "count",
    default: 0,
    validate: intIn(0),
    doc: "Each worker adds a random 0..jitter to max_requests, so workers do not all recycle at once.",
    gunicorn: "max_requests_jitter",
  }),
  def<number, "max_worker_memory">({
    name: "max_worker_memory",
    section: "Worker Processes",
    flags: ["--max-worker-memory"],
    type: "int",
    unit: "bytes",
    default: 0,
    validate: bytes,
    doc: "Recycle a worker whose resident memory (RSS, checked 10 times a second) exceeds this many bytes (`512M`, `1G`); 0 = never. At 90 % of it the replacement is started; the moment it is over, the worker stops accepting and drains. Like PM2's max_memory_restart, but graceful.",
  }),
  def<"log" | "retire", "stray_errors">({
    name: "stray_errors",
    section: "Worker Processes",
    flags: ["--stray-errors"],
    type: "enum",
    choices: ["log", "retire"],
    default: "log",
    validate: (n) => oneOf(n, ["log", "retire"] as const),
    doc: "What a worker does after an unhandled promise rejection or an exception thrown outside a request handler (a timer, an event listener): `log` writes it to the error log, with the request it belongs to when known, and keeps serving; `retire` logs it too, then stops accepting, finishes its requests and exits, its replacement started first. Either way no other connection fails (Node's default would exit the worker).",
  }),
  def<number, "worker_connections">({
    name: "worker_connections",
    section: "Worker Processes",
    flags: ["--worker-connections"],
    type: "int",
    unit: "count",
    default: 1000,
    validate: intIn(1, 1_000_000),
    doc: "Maximum simultaneous client connections per worker (node's server.maxConnections): a worker at the limit closes further connections it accepts (Gunicorn's gthread worker stops accepting instead).",
    gunicorn: "worker_connections",
  }),
  def<number, "limit_request_line">({
    name: "limit_request_line",
    section: "Security",
    flags: ["--limit-request-line"],
    type: "int",
    unit: "bytes",
    default: 4094,
    validate: intIn(0, 8190),
    doc: "Maximum size of the request line (method, URI, version) in bytes; longer -> 414 URI Too Long (Gunicorn answers 400). 0 = up to 8190.",
    gunicorn: "limit_request_line",
  }),
  def<number, "limit_request_fields">({
    name: "limit_request_fields",
    section: "Security",
    flags: ["--limit-request-fields"],
    type: "int",
    unit: "count",
    default: 100,
    validate: intIn(0, 32768),
    doc: "Maximum number of request header fields; more -> 431 Request Header Fields Too Large. 0 = 32768.",
    gunicorn: "limit_request_fields",
  }),
  def<number, "limit_request_field_size">({
    name: "limit_request_field_size",
    section: "Security",
    flags: ["--limit-request-field-size", "--limit-request-field_size"],
    type: "int",
    unit: "bytes",
    default: 8190,
    validate: intIn(0, 65536),
    doc: "Maximum size of one request header line (`name: value` with its CRLF, as Gunicorn counts it) in bytes; larger -> 431. 0 = 8190. A whole request head is capped at Gunicorn's `limit_request_line` + 2 + fields x (field size + 2) + 4 bytes. All three limits are also checked while a head arrives, not only once it is complete.",
    gunicorn: "limit_request_field_size",
  }),
  def<number, "limit_header_memory">({
    name: "limit_header_memory",
    section: "Security",
    flags: ["--limit-header-memory"],
    type: "int",
    unit: "bytes",
    default: 4 * 1024 * 1024,
    defaultDoc: "`4M`",
    validate: bytes,
    doc: "Per worker: bytes of request heads still arriving, over all connections (a head that arrives in one read never counts), plus those of heads refused in about the last second. Over it, the connection holding the most (above 16 KiB) is answered 431 and closed, so a flood of large unfinished heads cannot grow a worker without bound: 1000 connections parking 795 KB each grow a worker by about 50 MB instead of 500 (bench/RESULTS.md). 0 = no limit.",
  }),
  def<number, "limit_header_connections">({
    name: "limit_header_connections",
    section: "Security",
    flags: ["--limit-header-connections"],
    type: "int",
    unit: "count",
    default: 256,
    validate: intIn(0, 1_000_000),
    doc: "Per worker: connections in the middle of sending a request head at once (a head that arrives whole never counts). One more closes the one that has been sending longest, with 408 (slowloris). 0 = no limit.",
  }),
  def<number, "header_timeout">({
    name: "header_timeout",
    section: "Security",
    flags: ["--header-timeout"],
    type: "number",
    unit: "seconds",
    default: 30,
    validate: numberIn(0, 3600),
    doc: "Seconds a client has to finish a request head (request line and headers) once it has sent its first byte, as nginx's `client_header_timeout`; slower -> 408 and the connection is closed. Also Node's `server.headersTimeout`. 0 disables.",
  }),
  def<number, "request_timeout">({
    name: "request_timeout",
    section: "Security",
    flags: ["--request-timeout"],
    type: "number",
    unit: "seconds",
    default: 300,
    validate: numberIn(0, 86400),
    doc: "Seconds a client has to send a whole request, body included (Node's `server.requestTimeout`, same default); slower -> 408. 0 disables.",
  }),
  def<string, "forwarded_allow_ips">({
    name: "forwarded_allow_ips",
    section: "Security",
    flags: ["--forwarded-allow-ips"],
    env: ["FORWARDED_ALLOW_IPS"],
    type: "string",
    default: (env) => env.FORWARDED_ALLOW_IPS ?? PRIVATE_PEERS,
    defaultDoc: "`$FORWARDED_ALLOW_IPS`, else loopback and the private ranges: `" + PRIVATE_PEERS + "`",
    validate: ipList,
    // Set but empty means what it says, as in Gunicorn: trust no TCP peer.
    fromEnv: (env) => env.FORWARDED_ALLOW_IPS,
    doc: "Peers (IPs, CIDRs, or `*`) trusted to set `X-Forwarded-For/-Proto/-Host/-Protocol/-Ssl` and `Forwarded`; from any other peer the runtime removes those headers before the app sees them, so a client that reaches the server directly cannot spoof its address or `https`. Unix-socket peers are trusted. The default covers nginx on the same host, a proxy container on a Docker network and an ingress in a cluster; `*` trusts everyone (only when nothing but the proxy can reach the port); empty trusts no TCP peer (no proxy in front, or clients arriving through NAT from a private address, e.g. a swarm's routing mesh). Gunicorn 22+ defaults to `127.0.0.1,::1`.",
    gunicorn: "forwarded_allow_ips",
  }),
  def<string[], "raw_env">({
    name: "raw_env",
    section: "Server Mechanics",
    flags: ["--env"],
    short: "e",
    type: "list",
    default: [],
    validate: envList,
    doc: "Set an environment variable for the workers and the app, `KEY=VALUE`, repeatable (applied to new workers on HUP).",
    gunicorn: "raw_env",
  }),
  def<boolean, "preload_app">({
    name: "preload_app",
    section: "Server Mechanics",
    flags: ["--preload"],
    type: "boolean",
    default: false,
    validate: bool,
    doc: "Import the app in the arbiter once before forking, so an app that fails to import stops start-up (exit 4) before any worker starts. Unlike Gunicorn this saves no memory: workers are started with child_process.fork (a new process, no copy-on-write) and import the app again. The arbiter does not re-import on HUP (as Gunicorn), but new workers import the code on disk.",
    gunicorn: "preload_app",
  }),
  def<string | null, "chdir">({
    name: "chdir",
    section: "Server Mechanics",
    flags: ["--chdir"],
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true }),
    doc: "Change to this directory before loading the app: the app spec and relative log paths are resolved from it (the config file from where prodserver started).",
    gunicorn: "chdir",
  }),
  def<string | null, "pidfile">({
    name: "pidfile",
    section: "Server Mechanics",
    flags: ["--pid"],
    short: "p",
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true }),
    doc: "Write the arbiter's PID to this file (removed at exit; a re-exec'd arbiter writes `<pidfile>.2` until the old one exits).",
    gunicorn: "pidfile",
  }),
  def<string | null, "user">({
    name: "user",
    section: "Server Mechanics",
    flags: ["--user"],
    short: "u",
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true, pattern: /^([a-z_][a-z0-9_.-]{0,31}\$?|\d{1,10})$/i, what: "a user name or a numeric uid" }),
    doc: "Workers switch to this user (name or uid) after receiving the listening sockets and before loading the app; the arbiter keeps its identity and must run as root. Without `group`, the user's primary group. Log files are opened before the switch, so USR1 reopening needs them writable by this user.",
    gunicorn: "user",
  }),
  def<string | null, "group">({
    name: "group",
    section: "Server Mechanics",
    flags: ["--group"],
    short: "g",
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true, pattern: /^([a-z_][a-z0-9_.-]{0,31}|\d{1,10})$/i, what: "a group name or a numeric gid" }),
    doc: "Workers switch to this group (name or gid) before switching user; needs the arbiter to run as root.",
    gunicorn: "group",
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
  def<string | null, "certfile">({
    name: "certfile",
    section: "SSL",
    flags: ["--certfile"],
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true }),
    doc: "PEM certificate (chain) file; with `keyfile`, workers serve HTTPS (node:https) on every bind instead of HTTP. Read by each worker at boot (before `user` applies), so a HUP picks up a renewed certificate.",
    gunicorn: "certfile",
  }),
  def<string | null, "keyfile">({
    name: "keyfile",
    section: "SSL",
    flags: ["--keyfile"],
    type: "string",
    default: null,
    validate: (n) => str(n, { nullable: true }),
    doc: "PEM private key file for `certfile`; one of the two without the other is an error.",
    gunicorn: "keyfile",
  }),
  def<string | null, "metrics_bind">({
    name: "metrics_bind",
    section: "Logging",
    flags: ["--metrics-bind"],
    type: "string",
    default: null,
    defaultDoc: "unset (no metrics, no instrumentation)",
    validate: (n) => (value: unknown, source: string) => {
      const v = str(n, { nullable: true })(value, source);
      const tcp = (b: string) => {
        try {
          return parseBind(b, source).kind === "tcp";
        } catch {
          return false;
        }
      };
      if (v !== null && !tcp(v)) throw new SettingError(n, source, `expected HOST:PORT (TCP), got ${JSON.stringify(v)}`);
      return v;
    },
    doc: "Serve Prometheus metrics (`GET /metrics`) from the arbiter on this separate TCP address, e.g. `127.0.0.1:9100`; never on the app's port. Request counts and durations are summed over all workers. Read at start (not on HUP).",
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
  def<boolean, "capture_output">({
    name: "capture_output",
    section: "Logging",
    flags: ["--capture-output"],
    type: "boolean",
    default: false,
    validate: bool,
    doc: "Send the workers' stdout and stderr (the app's console output) to the error log, one log line per output line in the log's format (stdout at `info`, stderr at `error`, never filtered by `loglevel`), instead of the inherited stdio.",
    gunicorn: "capture_output",
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
  // biome-ignore lint/suspicious/noExplicitAny: each entry has its own value type; the tuple keeps them apart
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
