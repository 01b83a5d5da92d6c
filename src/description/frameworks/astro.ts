/**
 * Astro with @astrojs/node: `astro build` writes `outDir` (default `dist`); the server entry is
 * `dist/server/entry.mjs`. In `mode: 'standalone'` it starts its own server on `HOST`/`PORT` (the
 * runtime sets both, so it does not stay on Astro's default `localhost`): listen mode. In
 * `mode: 'middleware'` it exports `handler(req, res, next)`: handler mode on that export. Without a
 * server adapter `astro build` makes a static site, which is refused with the command that adds
 * one. The entry imports astro and @astrojs/node at run time. Image: `dist` and the production
 * dependencies. (`astro build` needs Node >= 22; the image builds on the description's `node`.)
 */
import type { Description } from "../types.js";
import { buildReason, builtWithDependencies, configText, needsProduction, stringOption } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection } from "./types.js";

export const astro: FrameworkAdapter = {
  frameworks: ["astro"],
  title: "Astro",
  detect(app: AppFolder): FrameworkDetection | null {
    if (!app.depends("astro")) return null;
    const { name: configName, text } = configText(app, "astro.config", "astro.config.mjs");
    const adapter = /(?:from\s+|require\(\s*)["'](@astrojs\/[\w-]+|[\w@/-]*astro-adapter[\w-]*)["']/.exec(text)?.[1] ?? null;
    const node = adapter === "@astrojs/node";
    const outDir = stringOption(text, "outDir")?.replace(/^\.\//, "").replace(/\/$/, "") || "dist";
    const middleware = node && stringOption(text, "mode") === "middleware";
    const entry = `${outDir}/server/entry.mjs`;
    const script = app.script(/(^|\s|&&\s*)astro\s+build\b/);
    return {
      framework: "astro",
      app: middleware ? `${entry}#handler` : entry,
      build: script ? { command: app.run(script), output: outDir } : null,
      appPort: null,
      built: [entry],
      reasons: {
        framework: `"astro" in the dependencies, ${adapter ? `${adapter} in ${configName}` : "no server adapter"}`,
        app: middleware
          ? `@astrojs/node in middleware mode: ${entry} exports handler(req, res, next), served in handler mode`
          : `@astrojs/node in standalone mode: ${entry} starts its own server, served in listen mode`,
        ...(script ? { build: buildReason(app, script, outDir) } : {}),
        port: "the standalone server reads PORT and HOST, which the runtime sets",
      },
      notes: [],
      problem: !node
        ? {
            file: configName,
            found: adapter ? `the adapter is ${adapter}, which builds for another platform, not a Node server` : "no server adapter: astro build makes a static site in dist/",
            change: "add the Node adapter: `npx astro add node` (or serve dist/ with a static web server)",
          }
        : !script
          ? { file: "package.json", found: "no script runs `astro build`", change: 'add "build": "astro build" to "scripts"' }
          : (needsProduction(app, "@astrojs/node", `${entry} imports it`) ?? needsProduction(app, "astro", `${entry} imports it`)),
    };
  },
  image: (d: Description) => builtWithDependencies(d.build?.output ?? "dist", "Astro (@astrojs/node)"),
};
