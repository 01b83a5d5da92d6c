/**
 * Fastify CLI apps (`npx fastify-cli generate`): `app.js` exports a Fastify *plugin*
 * (`async (fastify, opts) => {...}`), not a request listener, and `fastify start -l info app.js`
 * (the `start` script) creates the server, registers the plugin and listens. So the runtime runs
 * that command, as the `start` script does, in listen mode. The TypeScript template's start script
 * builds first (`npm run build:ts && fastify start -l info dist/app.js`): that script is the build,
 * tsconfig's `outDir` its output. A `-p`/`--port` in the command is the app's fixed port.
 * Image: the app's files and its production dependencies (fastify-cli among them).
 */
import type { Description } from "../types.js";
import { appFilesLayout, cleanPath, needsProduction, portFlag, tsconfigDirs } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection } from "./types.js";

/** `[build script or null, "fastify start ..."]` from the start script, or null. */
function startCommand(app: AppFolder): [string | null, string] | null {
  const start = app.pkg.scripts?.start;
  if (typeof start !== "string") return null;
  const m = /^(?:(?:npm|pnpm|yarn)\s+(?:run\s+)?([\w:.-]+)\s*&&\s*)?(fastify\s+start(?:\s+[^;&|<>`$()]*)?)$/.exec(start.trim());
  return m ? [m[1] ?? null, m[2].trim().replace(/\s+/g, " ")] : null;
}

export const fastifyCli: FrameworkAdapter = {
  frameworks: ["fastify-cli"],
  title: "Fastify CLI",
  detect(app: AppFolder): FrameworkDetection | null {
    if (!app.depends("fastify-cli")) return null;
    const cmd = startCommand(app);
    if (!cmd) return null; // fastify-cli used for something else: the app starts itself
    const [buildScript, command] = cmd;
    const output = buildScript ? (tsconfigDirs(app, "tsconfig.json").outDir ?? "dist") : null;
    const plugin =
      command
        .split(" ")
        .reverse()
        .find((w) => /\.[cm]?[jt]s$/.test(w)) ?? null;
    const built = output && plugin && cleanPath(plugin)!.startsWith(`${output}/`) ? [cleanPath(plugin)!] : [];
    const appPort = portFlag(command);
    return {
      framework: "fastify-cli",
      app: command,
      build: buildScript && output ? { command: app.run(buildScript), output } : null,
      appPort,
      built,
      reasons: {
        framework: '"fastify-cli" in the dependencies and a start script running `fastify start`',
        app: `scripts.start runs \`${command}\`: ${plugin ?? "the app"} exports a Fastify plugin, served by fastify start in listen mode`,
        ...(buildScript ? { build: `scripts.start builds with \`${app.run(buildScript)}\` first; output tsconfig outDir ${output}` } : {}),
        port: appPort ? `\`${command}\` listens on ${appPort}: app_port ${appPort}` : "fastify start reads PORT, which the runtime sets",
      },
      notes: [],
      problem: needsProduction(app, "fastify-cli", "`fastify start` runs the app"),
    };
  },
  image: (d: Description) => appFilesLayout(d, "Fastify CLI: the app's files (the plugin, its routes/ and plugins/)"),
};
