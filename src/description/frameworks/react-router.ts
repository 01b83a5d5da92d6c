/**
 * React Router 7+ (framework mode, what create-react-router makes): `react-router build` writes
 * `buildDirectory` (react-router.config, default `build`): `build/server/index.js` (the server
 * build) and `build/client/`. The production server is the `start` script's
 * `react-router-serve ./build/server/index.js` (Express with compression and static files), run by
 * the runtime with its arguments in listen mode. `ssr: false` is a static SPA (refused). An app
 * with its own server (`node server.js`) is left to the Express unit. Image: the build folder and
 * the production dependencies (@react-router/serve among them).
 */
import type { Description } from "../types.js";
import { buildReason, builtWithDependencies, configText, needsProduction, portFlag, scriptCommand, stringOption } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection } from "./types.js";

export const reactRouter: FrameworkAdapter = {
  frameworks: ["react-router"],
  title: "React Router",
  detect(app: AppFolder): FrameworkDetection | null {
    const { name: configName, text, found } = configText(app, "react-router.config", "react-router.config.ts");
    if (!app.depends("@react-router/dev") && !(app.depends("react-router") && found)) return null;
    const buildDir = stringOption(text, "buildDirectory")?.replace(/^\.\//, "").replace(/\/$/, "") || "build";
    const serverBuild = `${buildDir}/server/index.js`;
    const start = scriptCommand(app, ["start"], /^react-router-serve\s/);
    if (!start && !app.depends("@react-router/serve")) return null; // its own server: the Express unit
    const command = start ?? `react-router-serve ./${serverBuild}`;
    const script = app.script(/(^|\s|&&\s*)react-router\s+build\b/);
    const spa = /\bssr\s*:\s*false\b/.test(text);
    return {
      framework: "react-router",
      app: command,
      build: script ? { command: app.run(script), output: buildDir } : null,
      appPort: portFlag(command),
      built: [serverBuild],
      reasons: {
        framework: `"@react-router/dev" in the dependencies${found ? `, ${configName}` : ""}`,
        app: `${start ? `scripts.start runs \`${start}\`` : "@react-router/serve's server"}: served in listen mode`,
        ...(script ? { build: buildReason(app, script, buildDir) } : {}),
        port: "react-router-serve reads PORT and HOST, which the runtime sets",
      },
      notes: [],
      problem: spa
        ? { file: configName, found: "ssr: false makes a static SPA (build/client) with no server to run", change: "serve build/client with a static web server (nginx), or set ssr: true" }
        : !script
          ? { file: "package.json", found: "no script runs `react-router build`", change: 'add "build": "react-router build" to "scripts"' }
          : needsProduction(app, "@react-router/serve", "`react-router-serve` runs the app"),
    };
  },
  image: (d: Description) => builtWithDependencies(d.build?.output ?? "build", "React Router"),
};
