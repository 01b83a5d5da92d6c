#!/usr/bin/env node
// The `prodserver` command of the published package (bundled into dist/pkg/prodserver.mjs).
import { hideBin } from "yargs/helpers";
import { cli, runEntry } from "../cli/main.js";

await runEntry(() => cli(hideBin(process.argv)));
