/**
 * Nuxt (Nitro's default `node-server` preset): `nuxt build` writes `.output/`, and
 * `.output/server/index.mjs` is the whole server — it listens itself (`NITRO_PORT`/`PORT`,
 * `NITRO_HOST`/`HOST`) and carries the dependencies it uses in `.output/server/node_modules`, so
 * the image needs `.output` and prodserver, not the app's node_modules. Listen mode. A Nitro
 * preset for another platform, or `node-cluster` (which forks its own workers), is refused.
 */
import type { Description } from "../types.js";
import { buildReason, configText, stringOption } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection, ImageLayout } from "./types.js";

/** Presets whose output is a Node server the runtime can run in listen mode. */
const NODE_PRESETS = new Set(["node-server", "node_server", "node"]);

export const nuxt: FrameworkAdapter = {
  frameworks: ["nuxt"],
  title: "Nuxt",
  detect(app: AppFolder): FrameworkDetection | null {
    if (!app.depends("nuxt")) return null;
    const { name: configName, text } = configText(app, "nuxt.config", "nuxt.config.ts");
    const preset = stringOption(text, "preset");
    const output = /\boutput\s*:\s*\{[^}]*\bdir\s*:\s*["']([^"'\n]+)["']/.exec(text)?.[1]?.replace(/^\.\//, "").replace(/\/$/, "") ?? ".output";
    const script = app.script(/(^|\s|&&\s*)(nuxt|nuxi)\s+build\b/);
    const entry = `${output}/server/index.mjs`;
    return {
      framework: "nuxt",
      app: entry,
      build: script ? { command: app.run(script), output } : null,
      appPort: null,
      built: [entry],
      reasons: {
        framework: '"nuxt" in the dependencies',
        app: `nuxt build writes Nitro's node-server ${entry}, which listens itself: served in listen mode`,
        ...(script ? { build: buildReason(app, script, output) } : {}),
        port: "Nitro reads NITRO_PORT/PORT, which the runtime sets",
      },
      notes: [],
      problem:
        preset && !NODE_PRESETS.has(preset)
          ? {
              file: configName,
              found: `nitro.preset is "${preset}", ${preset === "node-cluster" ? "which forks its own workers (the runtime's workers do that)" : "which builds for another platform, not a Node server"}`,
              change: `remove the preset (Nitro's default is node-server), or set preset: "node-server" in ${configName}`,
            }
          : script
            ? null
            : { file: "package.json", found: "no script runs `nuxt build`", change: 'add "build": "nuxt build" to "scripts"' },
    };
  },
  image(d: Description): ImageLayout {
    const output = d.build?.output ?? ".output";
    return {
      dependencies: "prodserver",
      source: false,
      outputs: [{ from: output, to: output }],
      afterBuild: null,
      summary: `Nuxt: ${output}/ (Nitro's server, with the dependencies it uses in ${output}/server/node_modules) and prodserver; not the app's node_modules.`,
    };
  },
};
