/**
 * Settings resolution for `prodserver serve`, as Gunicorn's `Application.load_config`, with the
 * precedence fixed by the contracts: defaults < config file < environment (`PRODSERVER_CMD_ARGS`,
 * then each setting's own variable such as `PORT`, `WEB_CONCURRENCY`) < command line.
 * (Gunicorn puts `PORT`/`WEB_CONCURRENCY` *below* the config file; we put them above it.)
 *
 * The command-line parser is generated from {@link SETTINGS} with `node:util` `parseArgs`.
 */
import fs from "node:fs";
import path from "node:path";
import url from "node:url";
import util, { type ParseArgsConfig } from "node:util";
import { hooksFrom, type Hooks } from "./hooks.js";
import { reusePortUnsupported } from "./listeners.js";
import { SETTINGS, SettingError, defaults, findSetting, type Setting, type Settings } from "./settings.js";

/** Raised for command-line usage problems (unknown flag, missing value); main exits 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Split a string into words like a POSIX shell does for `PRODSERVER_CMD_ARGS` (Gunicorn uses
 * `shlex.split` for `GUNICORN_CMD_ARGS`): whitespace separates words; single quotes keep
 * everything literally; double quotes keep everything but `\\"`, `\\\\`, `\\$`, `` \\` `` escapes;
 * a backslash outside quotes escapes the next character. No expansion of `$VAR`, globs or `~`.
 * @throws UsageError on an unterminated quote or a trailing backslash.
 */
export function shellSplit(input: string, what = "PRODSERVER_CMD_ARGS"): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  const fail = (why: string): never => {
    throw new UsageError(`${what}: ${why} in ${JSON.stringify(input)}`);
  };
  while (i < input.length) {
    const c = input[i];
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end === -1) fail("unterminated single quote");
      cur += input.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= input.length) fail("unterminated double quote");
        const d = input[i];
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\" && i + 1 < input.length && '"\\$`\n'.includes(input[i + 1])) {
          if (input[i + 1] !== "\n") cur += input[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
    } else if (c === "\\") {
      if (i + 1 >= input.length) fail("trailing backslash");
      if (input[i + 1] !== "\n") {
        cur += input[i + 1];
        inWord = true;
      }
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** The inverse of {@link shellSplit}: words joined so that shellSplit gives them back (single-quoted where needed). */
export function shellJoin(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs options generated from SETTINGS, plus a map from option name to setting name. */
export function cliOptions(): { options: Options; owner: Map<string, string> } {
  const options: Options = {};
  const owner = new Map<string, string>();
  for (const s of SETTINGS as readonly Setting[]) {
    s.flags.forEach((flag, i) => {
      const key = flag.replace(/^--/, "");
      options[key] = {
        type: s.type === "boolean" ? "boolean" : "string",
        multiple: s.type === "list",
        ...(i === 0 && s.short ? { short: s.short } : {}),
      };
      owner.set(key, s.name);
    });
  }
  return { options, owner };
}

/** Raw (unvalidated) setting values from an argument vector, keyed by setting name. */
export function parseArgv(args: string[], what: string): Record<string, unknown> {
  const { options, owner } = cliOptions();
  const parse = () => {
    try {
      return util.parseArgs({ args, options, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError(`${what}: ${(e as Error).message}`);
    }
  };
  const parsed = parse();
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.values)) {
    if (value !== undefined) out[owner.get(key)!] = value;
  }
  if (parsed.positionals.length >= 1) {
    if (out.app !== undefined) throw new UsageError(`${what}: the app is given both as --app and as an argument`);
    // APP [ARG...]: a program and its arguments (after `--` when an argument looks like a flag).
    out.app = parsed.positionals.length === 1 ? parsed.positionals[0] : shellJoin(parsed.positionals);
  }
  return out;
}

/**
 * Read a config file: `.json` holds an object of settings; `.mjs`/`.js` exports them as the
 * default export or as `export const settings`. Keys are setting names (snake_case).
 * @throws SettingError naming `config` when the file is missing or malformed, or the unknown key.
 */
export async function readConfigFile(file: string, cwd: string): Promise<{ path: string; values: Record<string, unknown>; hooks: Hooks }> {
  const abs = path.resolve(cwd, file);
  if (!fs.existsSync(abs)) throw new SettingError("config", file, `no such file: ${abs}`);
  let raw: unknown;
  let hooks: Hooks = {};
  let mod: Record<string, unknown> | null = null;
  try {
    if (abs.endsWith(".json")) {
      raw = JSON.parse(fs.readFileSync(abs, "utf8"));
    } else {
      mod = (await import(url.pathToFileURL(abs).href + `?t=${Date.now()}`)) as Record<string, unknown>;
      raw = mod.settings ?? mod.default ?? {};
    }
  } catch (e) {
    throw new SettingError("config", abs, `cannot be read: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SettingError("config", abs, "expected an object of settings (a JSON object, or `export default { ... }`)");
  }
  if (mod) {
    // Hooks are named exports, or functions inside the settings object (CommonJS
    // `module.exports = { workers: 2, when_ready() {} }`, whose keys also appear as named exports).
    const values = { ...(raw as Record<string, unknown>) };
    const named: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) if (typeof v === "function") (named[k] = v), delete values[k];
    for (const [k, v] of Object.entries(mod)) if (!(k in (raw as object)) || (raw as Record<string, unknown>)[k] !== v) named[k] = v;
    try {
      hooks = hooksFrom(named, abs);
    } catch (e) {
      throw new SettingError("config", abs, (e as Error).message);
    }
    raw = values;
  }
  for (const key of Object.keys(raw as object)) {
    const s = findSetting(key);
    if (!s) throw new SettingError(key, abs, "unknown setting");
    if (key === "config") throw new SettingError(key, abs, "cannot be set inside a config file");
  }
  return { path: abs, values: raw as Record<string, unknown>, hooks };
}

/** What {@link resolveSettings} returns: the settings, and where each came from. */
export interface Resolved {
  settings: Settings;
  /** Setting name -> source (`default`, the config file path, `PRODSERVER_CMD_ARGS`, `env PORT`, `command line`). */
  sources: Record<string, string>;
  /** Server hooks exported by an `.mjs`/`.js` config file (see hooks.ts). */
  hooks: Hooks;
}

/**
 * Resolve the settings for `serve` from `args` (after the subcommand), `env` and `cwd`.
 * Precedence: defaults < config file (`--config`, from argv or PRODSERVER_CMD_ARGS) < env < argv.
 * @throws UsageError for bad flags; SettingError (naming the setting and source) for bad values.
 */
export async function resolveSettings(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<Resolved> {
  const fromArgv = parseArgv(args, "command line");
  const fromCmdArgs = env.PRODSERVER_CMD_ARGS ? parseArgv(shellSplit(env.PRODSERVER_CMD_ARGS), "PRODSERVER_CMD_ARGS") : {};
  const out = defaults(env) as Record<string, unknown>;
  const sources: Record<string, string> = {};
  for (const k of Object.keys(out)) sources[k] = "default";
  const apply = (values: Record<string, unknown>, source: string) => {
    for (const [name, value] of Object.entries(values)) {
      const s = findSetting(name);
      if (!s) throw new SettingError(name, source, "unknown setting");
      out[name] = s.validate(value, source);
      sources[name] = source;
    }
  };
  const configName = (fromArgv.config ?? fromCmdArgs.config) as string | undefined;
  let hooks: Hooks = {};
  if (configName) {
    const file = await readConfigFile(configName, cwd);
    hooks = file.hooks;
    apply(file.values, file.path);
    out.config = file.path;
    sources.config = fromArgv.config ? "command line" : "PRODSERVER_CMD_ARGS";
  }
  // The environment layer: each setting's own variable (PORT, WEB_CONCURRENCY), then the more
  // explicit PRODSERVER_CMD_ARGS on top (as GUNICORN_CMD_ARGS beats WEB_CONCURRENCY in Gunicorn).
  for (const s of SETTINGS as readonly Setting[]) {
    if (!s.env) continue;
    const raw = s.fromEnv ? s.fromEnv(env) : s.env.map((v) => env[v]).find((v) => v !== undefined && v !== "");
    if (raw === undefined) continue;
    const name = s.env.find((v) => env[v] !== undefined) ?? s.env[0];
    out[s.name] = s.validate(raw, `env ${name}`);
    sources[s.name] = `env ${name}`;
  }
  apply(fromCmdArgs, "PRODSERVER_CMD_ARGS");
  apply(fromArgv, "command line");
  // Validate defaults too (cheap, and catches a default computed from a bad environment).
  for (const s of SETTINGS as readonly Setting[]) {
    if (sources[s.name] === "default") out[s.name] = s.validate(out[s.name], "default");
  }
  if (fromArgv.config) out.config = path.resolve(cwd, fromArgv.config as string);
  const noReusePort = out.reuse_port ? reusePortUnsupported() : null;
  if (noReusePort) throw new SettingError("reuse_port", sources.reuse_port, noReusePort);
  return { settings: out as Settings, sources, hooks };
}

/** The process name shown in titles and logs: `proc_name`, else the app spec, else `prodserver`. */
export function procName(s: Settings): string {
  return s.proc_name ?? s.app ?? "prodserver";
}
