#!/usr/bin/env node
/**
 * `prodserver` — the command line. Commands:
 *   init        detect the app and write prodserver.config.ts + deploy files (= `create-prodserver`)
 *   generate    render deploy files from the description (`--check` exits 11 on drift)
 *   build       build the image through the Docker Engine API, then smoke-test it
 *   check       validate the description and check generated files for drift
 *   serve       run the pre-fork runtime (flags: see `prodserver serve --help`)
 *   healthcheck exit 0 when the runtime answers its readiness endpoint, 1 otherwise
 * `serve` and `healthcheck` hand their arguments to the runtime: its flags are derived from the
 * settings registry (runtime/settings.ts), not declared twice here (./serve.ts).
 * Exit codes: ./exit-codes.ts (the README's "Exit codes of the CLI" table).
 */
import type { Argv } from "yargs";
import { closest, distance } from "fastest-levenshtein";
import { packageVersion } from "../package-root.js";
import { Output, UsageError, failureOf, isMain, runCommand, type OutputMode } from "./output.js";

// Commands and yargs are imported when used: `prodserver serve` (an image's CMD) starts the
// runtime without loading the generator, the builder or dockerode.

/** The commands, for typo suggestions (`serve` and `healthcheck` never reach yargs). */
const COMMANDS = ["init", "generate", "build", "check", "serve", "healthcheck"];

const dirOption = { type: "string", default: ".", describe: "the app folder" } as const;
const jsonOption = { type: "boolean", default: false, describe: 'print JSON Lines on stdout, errors included; the last line is {"type":"result",...}' } as const;

/** Run the CLI with `argv` (without node and script); resolves to the process exit code. Never throws. */
export async function cli(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "serve" || first === "healthcheck") {
    const { runHealthcheck, runServe } = await import("./serve.js");
    return first === "serve" ? runServe(rest) : runHealthcheck(rest);
  }
  let code = 0;
  const run = (command: string, mode: OutputMode, fn: (out: Output) => Promise<number>) => {
    const out = new Output(mode);
    return runCommand(command, out, () => fn(out)).then((c) => {
      code = c;
    });
  };
  try {
    await (await parser(argv, run)).parseAsync();
  } catch (err) {
    // A usage error, thrown before any command ran; printed in the mode the command asked for.
    const mode: OutputMode = wantsJson(argv) ? "json" : "human";
    return runCommand(COMMANDS.includes(first) ? first : "prodserver", new Output(mode), () => Promise.reject(err));
  }
  return code;
}

type Run = (command: string, mode: OutputMode, fn: (out: Output) => Promise<number>) => Promise<void>;

async function parser(argv: string[], run: Run): Promise<Argv> {
  const { default: yargs } = await import("yargs");
  const y = yargs(argv)
    .scriptName("prodserver")
    .usage("$0 <command> [options]")
    .command(
      "init [dir]",
      "detect the app and write prodserver.config.ts, Dockerfile, .dockerignore, nginx and systemd files",
      (y) => initOptions(y),
      (a) =>
        run("init", "human", async () =>
          (await import("./init.js")).runInit({ dir: a.dir as string, yes: a.yes as boolean, force: a.force as boolean, install: a.install as boolean, verify: a.verify as boolean }),
        ),
    )
    .command(
      "generate [targets..]",
      "render the deploy files from the description",
      (y) =>
        y
          .positional("targets", { type: "string", array: true, describe: "which files: dockerfile, dockerignore, nginx, systemd, compose, k8s, or all (default: all but k8s)" })
          .option("dir", dirOption)
          .option("check", { type: "boolean", default: false, describe: "write nothing; print a diff and exit 11 when a file differs" })
          .option("force", { type: "boolean", default: false, describe: "overwrite files edited since they were generated" })
          .option("json", jsonOption),
      (a) =>
        run("generate", a.json ? "json" : "human", async (out) =>
          (await import("./generate.js")).runGenerate({ dir: a.dir, targets: (a.targets as string[] | undefined) ?? [], check: a.check, force: a.force }, out),
        ),
    )
    .command(
      "build",
      "build the image (Docker Engine API) and smoke-test it",
      (y) =>
        y
          .option("dir", dirOption)
          .option("offline", {
            type: "boolean",
            default: false,
            describe: "fill the package manager's caches on this host, ship them in the build context and point the Dockerfile's install at them (for builders without registry access)",
          })
          .option("network", { type: "string", describe: "network of the build's RUN steps, as docker build --network (host: reach a registry on this host's loopback)" })
          .option("quiet", { alias: "q", type: "boolean", default: false, describe: "print one line: the image and the smoke test's result" })
          .option("json", jsonOption)
          .option("smoke", { type: "boolean", default: true, describe: "smoke-test the image after the build (--no-smoke skips)" })
          .option("cache", { type: "boolean", default: true, describe: "use the layer cache (--no-cache builds every step)" })
          .check((a) => {
            if (a.quiet && a.json) throw new UsageError("--quiet and --json cannot be combined: --json is for programs, --quiet for one line to read");
            return true;
          }),
      (a) =>
        run("build", a.json ? "json" : a.quiet ? "quiet" : "human", async (out) =>
          (await import("./build.js")).runBuild({ dir: a.dir, offline: a.offline, smoke: a.smoke, noCache: !a.cache, network: a.network }, out),
        ),
    )
    .command(
      "check",
      "validate the description and check the generated files for drift",
      (y) => y.option("dir", dirOption).option("json", jsonOption),
      (a) => run("check", a.json ? "json" : "human", async (out) => (await import("./generate.js")).runCheck({ dir: a.dir }, out)),
    )
    .command("serve [APP]", "run the pre-fork runtime; in a project folder, without APP, what prodserver.config.ts describes (`prodserver serve --help`)")
    .command("healthcheck", "exit 0 when the runtime is ready, 1 otherwise (`prodserver healthcheck --help`)")
    .middleware((args, y?: unknown) => rejectUnknown(args, y as YargsInstance, argv), true)
    .demandCommand(1, "no command given")
    .strict();
  return conventions(y);
}

/**
 * The conventions both entries share: `-h`/`--help`, `-v`/`--version` (package.json's), strict
 * parsing, no process.exit from yargs, and yargs' own failures as a UsageError (exit 2).
 */
export function conventions<T>(y: Argv<T>, hint?: string): Argv<T> {
  return y
    .help()
    .alias("h", "help")
    .version(packageVersion())
    .alias("v", "version")
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg, hint);
    });
}

/** The options `init` and `create-prodserver` share. */
export function initOptions<T>(y: Argv<T>) {
  return y
    .positional("dir", { type: "string", default: ".", describe: "the app folder" })
    .option("yes", { alias: "y", type: "boolean", default: false, describe: "take the detected values and defaults; ask nothing" })
    .option("force", { type: "boolean", default: false, describe: "overwrite generated files you edited" })
    .option("install", { type: "boolean", default: true, describe: "add prodserver to the app's dependencies with its package manager (--no-install skips)" })
    .option("verify", { type: "boolean", default: true, describe: "boot the detected app with the runtime before writing anything (--no-verify skips: the app is written unverified)" });
}

/** What the middleware reads from yargs: the options known where it runs (the matched command's). */
interface YargsInstance {
  getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]>; boolean: string[] };
}

/** The closest of `candidates` to `word` when it is close enough to be a typo, else null. */
export function suggest(word: string, candidates: readonly string[]): string | null {
  if (!candidates.length) return null;
  const best = closest(word, [...candidates]);
  const d = distance(word, best);
  return d < word.length && d <= Math.min(3, Math.max(2, Math.floor(word.length / 3))) ? best : null;
}

/**
 * Rejects an unknown command or option before yargs validates, with a suggestion
 * (`unknown option --ofline; did you mean --offline?`). Options are read from the raw tokens
 * before `--`; `--no-X` negates a known boolean X.
 * @throws UsageError
 */
function rejectUnknown(args: { _: Array<string | number> }, y: YargsInstance, raw: string[]): void {
  const command = args._[0] === undefined ? undefined : String(args._[0]);
  if (command !== undefined && !COMMANDS.includes(command)) {
    const near = suggest(command, COMMANDS);
    throw new UsageError(`unknown command ${JSON.stringify(command)}${near ? `; did you mean ${JSON.stringify(near)}?` : ""}`);
  }
  const opts = y.getOptions();
  const known = new Set(Object.keys(opts.key));
  for (const [k, aliases] of Object.entries(opts.alias)) for (const a of [k, ...aliases]) known.add(a);
  const long = [...known].filter((k) => k.length > 1);
  const bad: string[] = [];
  for (const token of raw) {
    if (token === "--") break;
    if (!/^-[^-\d]|^--[^-]/.test(token)) continue;
    const dashes = token.startsWith("--") ? "--" : "-";
    const name = token.slice(dashes.length).split("=")[0];
    for (const n of dashes === "--" ? [name] : [...name]) {
      if (known.has(n) || (n.startsWith("no-") && opts.boolean.includes(n.slice(3)))) continue;
      const negated = dashes === "--" && n.startsWith("no-");
      const near = negated ? suggest(n.slice(3), opts.boolean) : suggest(n, long);
      bad.push(`${dashes}${n}${near ? ` (did you mean --${negated ? "no-" : ""}${near}?)` : ""}`);
    }
  }
  if (bad.length) throw new UsageError(`unknown option${bad.length > 1 ? "s" : ""} ${bad.join(", ")}${command ? ` for \`prodserver ${command}\`` : ""}`);
}

/** Whether the command line asks for JSON output (`--json` before any `--`). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

/** Run a CLI entry: print errors (CliError and known user errors plainly, bugs with their stack) and set the exit code. */
export async function runEntry(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    const out = new Output("human");
    const f = await failureOf(err);
    out.failure(f);
    process.exitCode = f.exitCode;
  }
}

if (isMain(import.meta.url)) await runEntry(() => cli(process.argv.slice(2)));
