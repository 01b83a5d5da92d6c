/**
 * The building blocks of the settings registry (runtime/settings.ts): the `Setting` shape, the
 * validators every setting uses (each error names the setting and where the value came from),
 * bind-address parsing and the usable-CPU count. Node built-ins only.
 */
import os from "node:os";
import fs from "node:fs";
import net from "node:net";

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

/**
 * Validator factory: a number in [min, max], an integer when `integer` (numeric strings accepted,
 * as from flags/env). Throws SettingError naming the setting.
 */
function rangeIn(min: number, max: number, integer: boolean) {
  return (name: string) =>
    (value: unknown, source: string): number => {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !(integer ? Number.isInteger(n) : Number.isFinite(n))) {
        throw new SettingError(name, source, `expected ${integer ? "an integer" : "a number"}, got ${JSON.stringify(value)}`);
      }
      if (n < min || n > max) {
        throw new SettingError(name, source, `must be between ${min} and ${max}, got ${n}`);
      }
      return n;
    };
}

/** Validator factory: an integer in [min, max]. Throws SettingError naming the setting. */
export const intIn = (min: number, max = Number.MAX_SAFE_INTEGER) => rangeIn(min, max, true);

/** Validator factory: a finite number in [min, max]. Throws SettingError naming the setting. */
export const numberIn = (min: number, max = Number.MAX_SAFE_INTEGER) => rangeIn(min, max, false);

/** Validator: a boolean, or `1/true/yes/on` / `0/false/no/off` from flags/env. Throws SettingError naming the setting. */
export function bool(name: string) {
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

/** Validator factory: a string without NUL, optionally nullable and matching `pattern`. Throws SettingError naming the setting. */
export function str(name: string, opts: { nullable?: boolean; pattern?: RegExp; what?: string } = {}) {
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

/** Validator factory: one of `choices`. Throws SettingError naming the setting. */
export function oneOf<C extends string>(name: string, choices: readonly C[]) {
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
export type Bind = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string } | { kind: "fd"; fd: number };

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

/**
 * A byte size: an integer, or a string with a binary suffix `K`, `M`, `G` (`"512M"` = 512 MiB).
 * Errors name the setting.
 */
export function bytes(name: string) {
  return (value: unknown, source: string): number => {
    if (typeof value === "string") {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg])?i?b?\s*$/i.exec(value);
      if (!m) throw new SettingError(name, source, `expected bytes like 536870912, "512M" or "1G", got ${JSON.stringify(value)}`);
      const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase() as "k"] ?? 1;
      return intIn(0)(name)(Math.round(Number(m[1]) * mult), source);
    }
    return intIn(0)(name)(value, source);
  };
}

/**
 * 4 or 6 for an IPv4 or IPv6 address, 0 for anything else. Validated by node's own parser through
 * `net.BlockList`, not `net.isIP`: the first `isIP` of an IPv6 address compiles node's IPv6
 * pattern, ~20 ms of start-up in every process that checks `forwarded_allow_ips`.
 */
export function ipFamily(addr: string): 0 | 4 | 6 {
  const v6 = addr.includes(":");
  try {
    new net.BlockList().addAddress(addr, v6 ? "ipv6" : "ipv4");
    return v6 ? 6 : 4;
  } catch {
    return 0;
  }
}

/** A comma-separated list of IPs / CIDRs, or `*` (Gunicorn's `forwarded_allow_ips`). */
export function ipList(name: string) {
  return (value: unknown, source: string): string => {
    const text = Array.isArray(value) ? value.join(",") : value;
    if (typeof text !== "string") throw new SettingError(name, source, `expected a comma-separated list of addresses, got ${JSON.stringify(value)}`);
    const items = text
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
    for (const it of items) {
      if (it === "*") continue;
      const [addr, bits, extra] = it.split("/");
      const fam = ipFamily(addr);
      if (!fam || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (fam === 4 ? 32 : 128)))) {
        throw new SettingError(name, source, `not an IP address or CIDR: ${JSON.stringify(it)}`);
      }
    }
    return items.join(",");
  };
}

/** `KEY=VALUE` strings (Gunicorn's `raw_env`); one string or a list. Errors name the setting. */
export function envList(name: string) {
  return (value: unknown, source: string): string[] => {
    const list = Array.isArray(value) ? value : typeof value === "string" ? [value] : null;
    if (!list) throw new SettingError(name, source, `expected KEY=VALUE strings, got ${JSON.stringify(value)}`);
    return list.map((v) => {
      if (typeof v !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*=/.test(v) || v.includes("\0")) {
        throw new SettingError(name, source, `expected KEY=VALUE with KEY a variable name, got ${JSON.stringify(v)}`);
      }
      return v;
    });
  };
}

/** Validator for `workers`: 1..1024, or `auto` = {@link usableCpus} (Gunicorn has no `auto`). */
export function workers(value: unknown, source: string): number {
  if (value === "auto") return usableCpus();
  return intIn(1, 1024)("workers")(value, source);
}

/** Validator for `bind`: one address or a non-empty list, each checked by {@link parseBind}. */
export function binds(value: unknown, source: string): string[] {
  const list = Array.isArray(value) ? value : typeof value === "string" ? [value] : null;
  if (!list || list.length === 0) throw new SettingError("bind", source, "expected one or more addresses");
  return list.map((v) => {
    if (typeof v !== "string") throw new SettingError("bind", source, `expected a string, got ${JSON.stringify(v)}`);
    parseBind(v, source);
    return v;
  });
}

/** Define a setting; `validate` is built by `mk(name)` so errors always name the setting. */
export function def<T, N extends string>(s: Omit<Setting<T>, "validate" | "name"> & { name: N; validate: (name: string) => (v: unknown, source: string) => T }): Setting<T> & { readonly name: N } {
  return { ...s, validate: s.validate(s.name) };
}
