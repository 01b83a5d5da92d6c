#!/usr/bin/env node
/**
 * `create-prodserver [dir] [--yes] [--force] [--no-install] [--no-verify]` — the same as `prodserver
 * init`: detect the app in `dir` (default: the current folder), ask only what detection could not
 * settle (never on a non-TTY or with --yes), boot the detected app to prove it serves, write
 * prodserver.config.mjs and the deploy files, and add prodserver to the app's dependencies. The `create-prodserver` package (packages/create-prodserver, what
 * `npm create prodserver` runs) calls {@link createCli} from here.
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { conventions, initOptions, runEntry } from "./main.js";
import { isMain } from "./output.js";

export { runEntry };

/** Parse `argv` as create-prodserver's arguments and run init; resolves to the exit code. */
export async function createCli(argv: string[]): Promise<number> {
  let code = 0;
  const parser = yargs(argv)
    .scriptName("create-prodserver")
    .usage("$0 [dir] [options]")
    .command(
      "$0 [dir]",
      false,
      (y) => initOptions(y),
      async (a) => {
        const { runInit } = await import("./init.js");
        code = await runInit({ dir: a.dir as string, yes: a.yes as boolean, force: a.force as boolean, install: a.install as boolean, verify: a.verify as boolean });
      },
    )
    .strict();
  await conventions(parser, "run `create-prodserver --help` for the options").parseAsync();
  return code;
}

if (isMain(import.meta.url)) await runEntry(() => createCli(hideBin(process.argv)));
