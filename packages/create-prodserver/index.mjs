#!/usr/bin/env node
// `npm create prodserver` / `npx create-prodserver`: prodserver's init (detect the app, write
// prodserver.config.mjs and the deploy files, add prodserver to the app's dependencies).
import { createCli, runEntry } from "prodserver/create";

await runEntry(() => createCli(process.argv.slice(2)));
