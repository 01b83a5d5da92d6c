/**
 * `prodserver serve` and `prodserver healthcheck`: handed to the runtime (runtime/main.ts), whose
 * parser is derived from the settings registry. In a project folder, `serve` without an app
 * serves what the project description says, as `gunicorn` reads `./gunicorn.conf.py`: the
 * description's `app`, a bind on `127.0.0.1:<port>` plus `processes.web.bind`, and every
 * `processes.web` setting. The precedence stays the runtime's (a config file's): a setting
 * given on the command line, in `PRODSERVER_CMD_ARGS` or by its environment variable (`PORT`,
 * `WEB_CONCURRENCY`) wins over the description's value.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgv, shellSplit } from "../../runtime/config.js";
import { SETTINGS, type Setting } from "../../runtime/settings.js";
import type { Description } from "../description/index.js";
import type { Derived, Sourced } from "../generate/derive.js";

/**
 * The runtime's `serve` arguments for `args` run in `cwd`: `args` unchanged when they (or
 * `PRODSERVER_CMD_ARGS`) name an app or a `--config` file, when they ask for help or do not parse
 * (the runtime reports that), or when `cwd` has no description; otherwise the description's
 * settings first, then `args`.
 * @throws DescriptionFileError / DescriptionError when the description cannot load or is invalid.
 */
export async function serveArgs(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<string[]> {
  if (args.includes("--help") || args.includes("-h")) return args;
  let given: Set<string>;
  try {
    given = new Set([...Object.keys(parseArgv(args, "command line")), ...Object.keys(env.PRODSERVER_CMD_ARGS ? parseArgv(shellSplit(env.PRODSERVER_CMD_ARGS), "PRODSERVER_CMD_ARGS") : {})]);
  } catch {
    return args;
  }
  if (given.has("app") || given.has("config")) return args;
  // Loaded only here: serving a named app never imports the description's schema and loader.
  const { DESCRIPTION_FILES, loadDescription } = await import("../description/load.js");
  if (!DESCRIPTION_FILES.some((f) => fs.existsSync(path.join(cwd, f)))) return args;
  const { description } = await loadDescription(cwd);
  for (const s of SETTINGS as readonly Setting[]) if (setByEnvironment(s, env)) given.add(s.name);
  const { derive } = await import("../generate/derive.js");
  return [...descriptionArgs(description, derive(description), given), ...args];
}

/** Whether the environment sets `s` through its own variable (`PORT` for bind, `WEB_CONCURRENCY` for workers). */
function setByEnvironment(s: Setting, env: NodeJS.ProcessEnv): boolean {
  if (!s.env) return false;
  if (s.fromEnv) return s.fromEnv(env) !== undefined;
  return s.env.some((v) => env[v] !== undefined && env[v] !== "");
}

/**
 * The runtime flags a description stands for (the same flags as the generated units', from
 * `derive(d)` = `x`), leaving out the settings in `given`; the app last, as the positional APP.
 */
export function descriptionArgs(d: Description, x: Pick<Derived, "extraBinds" | "webFlags">, given: ReadonlySet<string> = new Set()): string[] {
  const words = (list: Sourced[]) => list.map((s) => String(s.value));
  const out: string[] = [];
  if (!given.has("bind")) out.push("--bind", `127.0.0.1:${d.port}`, ...words(x.extraBinds));
  // webFlags come in runs of one setting (`--flag value`, or a repeated list flag); each run's field names it.
  const bySetting = new Map<string, Sourced[]>();
  for (const f of x.webFlags) bySetting.set(f.field, [...(bySetting.get(f.field) ?? []), f]);
  for (const [field, flags] of bySetting) {
    if (!given.has(field.replace(/^processes\.web\./, ""))) out.push(...words(flags));
  }
  out.push(d.app);
  return out;
}

/** `prodserver serve ...`: the runtime's serve, with the description's settings in a project folder. */
export async function runServe(args: string[]): Promise<number> {
  const argv = ["serve", ...(await serveArgs(args))];
  return (await import("../../runtime/main.js")).main(argv);
}

/** `prodserver healthcheck ...`: the runtime's health check (its `--help` included). */
export async function runHealthcheck(args: string[]): Promise<number> {
  return (await import("../../runtime/main.js")).main(["healthcheck", ...args]);
}
