#!/usr/bin/env node
/**
 * `prodserver` — the command line. Commands:
 *   init        detect the app and write prodserver.config.ts + deploy files (= `create-prodserver`)
 *   generate    render deploy files from the description (`--check` exits 1 on drift)
 *   build       build the image through the Docker Engine API, then smoke-test it
 *   check       validate the description and check generated files for drift
 *   serve       run the pre-fork runtime (flags: see `prodserver serve --help`)
 *   healthcheck exit 0 when the runtime answers its readiness endpoint, 1 otherwise
 * `serve` and `healthcheck` hand their arguments to the runtime untouched: its flags are derived
 * from the settings registry (runtime/settings.ts), not declared twice here.
 */
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { main as runtimeMain } from "../../runtime/main.js";
import { runInit } from "./init.js";
import { runGenerate, runCheck } from "./generate.js";
import { runBuild } from "./build.js";
import { CliError, isMain, isUserError } from "./output.js";

/** Run the CLI with `argv` (without node and script); resolves to the process exit code. */
export async function cli(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "serve" || first === "healthcheck") return runtimeMain([first, ...rest]);
  let code = 0;
  const set = (p: Promise<number>) =>
    p.then((c) => {
      code = c;
    });
  await yargs(argv)
    .scriptName("prodserver")
    .usage("$0 <command> [options]")
    .command(
      "init [dir]",
      "detect the app and write prodserver.config.ts, Dockerfile, .dockerignore, nginx and systemd files",
      (y) => initOptions(y),
      (a) => set(runInit({ dir: a.dir as string, yes: a.yes as boolean, force: a.force as boolean, install: a.install as boolean })),
    )
    .command(
      "generate [targets..]",
      "render the deploy files from the description",
      (y) =>
        y
          .positional("targets", { type: "string", array: true, describe: "which files: dockerfile, dockerignore, nginx, systemd, compose, k8s, or all (default: all but k8s)" })
          .option("dir", { type: "string", default: ".", describe: "the app folder" })
          .option("check", { type: "boolean", default: false, describe: "write nothing; exit 1 and print a diff when a file differs" })
          .option("force", { type: "boolean", default: false, describe: "overwrite files edited since they were generated" }),
      (a) => set(runGenerate({ dir: a.dir, targets: (a.targets as string[] | undefined) ?? [], check: a.check, force: a.force })),
    )
    .command(
      "build",
      "build the image (Docker Engine API) and smoke-test it",
      (y) =>
        y
          .option("dir", { type: "string", default: ".", describe: "the app folder" })
          .option("offline", { type: "boolean", default: false, describe: "fill the package manager's caches on this host, ship them in the build context and point the Dockerfile's install at them (for builders without registry access)" })
          .option("network", { type: "string", describe: "network of the build's RUN steps, as docker build --network (host: reach a registry on this host's loopback)" })
          .option("quiet", { type: "boolean", default: false, describe: "print only the final report line" })
          .option("json", { type: "boolean", default: false, describe: "print progress and the report as JSON lines" })
          .option("smoke", { type: "boolean", default: true, describe: "smoke-test the image after the build (--no-smoke skips)" })
          .option("cache", { type: "boolean", default: true, describe: "use the layer cache (--no-cache builds every step)" }),
      (a) =>
        set(
          runBuild({
            dir: a.dir,
            offline: a.offline,
            quiet: a.quiet,
            json: a.json,
            smoke: a.smoke,
            noCache: !a.cache,
            network: a.network,
          }),
        ),
    )
    .command(
      "check",
      "validate the description and check the generated files for drift",
      (y) => y.option("dir", { type: "string", default: ".", describe: "the app folder" }),
      (a) => set(runCheck({ dir: a.dir })),
    )
    .command("serve", "run the pre-fork runtime (see `prodserver serve --help`)")
    .command("healthcheck", "exit 0 when the runtime is ready, 1 otherwise (see `prodserver healthcheck --help`)")
    .demandCommand(1, "name a command")
    .strict()
    .help()
    .version(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new CliError(msg);
    })
    .parseAsync();
  return code;
}

/** The options `init` and `create-prodserver` share. */
export function initOptions<T>(y: Argv<T>) {
  return y
    .positional("dir", { type: "string", default: ".", describe: "the app folder" })
    .option("yes", { alias: "y", type: "boolean", default: false, describe: "take the detected values and defaults; ask nothing" })
    .option("force", { type: "boolean", default: false, describe: "overwrite generated files you edited" })
    .option("install", { type: "boolean", default: true, describe: "add prodserver to the app's dependencies with its package manager (--no-install skips)" });
}

/** Run a CLI entry: print CliError messages plainly, anything else with its stack; exit with the code. */
export async function runEntry(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`prodserver: ${err.message}`);
      process.exitCode = err.exitCode;
    } else if (isUserError(err)) {
      // Bad input the user can fix: the message names the file and field; a stack would only hide it.
      console.error(`prodserver: ${(err as Error).message}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  }
}

if (isMain(import.meta.url)) await runEntry(() => cli(hideBin(process.argv)));
