/**
 * Next.js: `next build` (the script that runs it) writes `distDir` (default `.next`). What runs in
 * production is what Next.js itself runs:
 *
 * - `output: 'standalone'` in next.config → `.next/standalone/server.js`, the minimal server with
 *   only the files Next's tracing found (next, react, ...): the image carries `.next/standalone`,
 *   `.next/static`, `public/` and prodserver — not the app's node_modules. `app` is `server.js`
 *   (it `chdir`s to its own folder). In a workspace, Next nests the server under the app's path
 *   below the workspace root; the standalone folder is copied to the workspace root, so
 *   `server.js` is again in the app folder.
 * - otherwise → `next start` (the `start` script's, with its arguments), with the production
 *   dependencies and `.next` minus its build cache; detection recommends standalone.
 * - `output: 'export'` is a static site (`out/`): nothing for a Node server to serve.
 * next.config is read as text: an `output` computed at run time is not seen.
 */
import fs from "node:fs";
import path from "node:path";
import type { Description } from "../types.js";
import { appFilesLayout, buildReason, configFile, needsProduction, portFlag, scriptCommand, stringOption } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection, ImageLayout } from "./types.js";

/** The folder of `server.js` under `<distDir>/standalone` (nested under the tracing root's path to the app), or null. */
function standaloneServerDir(app: AppFolder, distDir: string): string | null {
  const root = `${distDir}/standalone`;
  const walk = (rel: string, depth: number): string | null => {
    if (app.has(`${rel}/server.js`)) return rel;
    if (depth === 0) return null;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(path.join(app.dir, rel), { withFileTypes: true });
    } catch {
      return null;
    }
    for (const e of entries) {
      if (!e.isDirectory() || e.name === "node_modules" || e.name === ".next") continue;
      const found = walk(`${rel}/${e.name}`, depth - 1);
      if (found) return found;
    }
    return null;
  };
  return walk(root, 4);
}

/** Whether a Next.js description is a standalone one (its `app` is the standalone server). */
function isStandalone(d: Description): boolean {
  return /^(\.\/)?server\.js$/.test(d.app.trim());
}

export const nextjs: FrameworkAdapter = {
  frameworks: ["nextjs"],
  title: "Next.js",
  detect(app: AppFolder): FrameworkDetection | null {
    if (!app.depends("next")) return null;
    const config = configFile(app, "next.config");
    const configName = config?.file ?? "next.config.js";
    const output = config ? stringOption(config.text, "output") : null;
    const distDir = (config && stringOption(config.text, "distDir")?.replace(/^\.\//, "").replace(/\/$/, "")) || ".next";
    const script = app.script(/(^|\s|&&\s*)next\s+build\b/);
    const base = { framework: "nextjs" as const, appPort: null, notes: [] as string[] };
    const build = script ? { command: app.run(script), output: distDir } : null;
    const whyBuild = script ? { build: buildReason(app, script, distDir) } : {};
    const noScript = { file: "package.json", found: "no script runs `next build`", change: 'add "build": "next build" to "scripts"' };
    if (output === "export") {
      return {
        ...base,
        app: "next start",
        build,
        built: [],
        reasons: { framework: '"next" in the dependencies', app: `${configName} sets output: 'export'`, ...whyBuild },
        problem: {
          file: configName,
          found: "output: 'export' makes a static site (out/) with no Node server to run",
          change: "serve out/ with a static web server (nginx), or remove output: 'export' to run Next.js's server",
        },
      };
    }
    if (output === "standalone") {
      const serverDir = standaloneServerDir(app, distDir);
      return {
        ...base,
        app: "server.js",
        build,
        built: [`${distDir}/BUILD_ID`, serverDir ? `${serverDir}/server.js` : `${distDir}/standalone/server.js`],
        proofDir: serverDir ?? undefined,
        reasons: {
          framework: '"next" in the dependencies',
          app: `${configName} sets output: 'standalone': Next's own server ${distDir}/standalone/server.js, served in listen mode; the image carries it with ${distDir}/static and public/`,
          ...whyBuild,
          port: "server.js reads PORT and HOSTNAME, which the runtime sets",
        },
        problem: script ? null : noScript,
      };
    }
    const start = scriptCommand(app, ["start"], /^next\s+start\b/);
    const command = start ?? "next start";
    return {
      ...base,
      app: command,
      appPort: portFlag(command),
      build,
      built: [`${distDir}/BUILD_ID`],
      reasons: {
        framework: '"next" in the dependencies',
        app: `${start ? `scripts.start runs \`${start}\`` : "Next.js's production server"}: served in listen mode`,
        ...whyBuild,
        port: portFlag(command) ? `\`${command}\` listens on ${portFlag(command)}: app_port` : "next start reads PORT, which the runtime sets",
      },
      notes: [`set output: 'standalone' in ${configName} for a smaller image: it then carries ${distDir}/standalone (the server and only the files it uses) instead of every production dependency`],
      problem: script ? needsProduction(app, "next", "`next start` runs the app") : noScript,
    };
  },
  image(d: Description): ImageLayout {
    const distDir = d.build?.output ?? ".next";
    if (!isStandalone(d)) {
      return { ...appFilesLayout(d, "Next.js (next start): the app's files"), afterBuild: `rm -rf ${distDir}/cache`, writable: `${distDir}/cache` };
    }
    return {
      dependencies: "prodserver",
      source: false,
      outputs: [
        { from: `${distDir}/standalone`, to: "", toRoot: true },
        { from: `${distDir}/static`, to: `${distDir}/static` },
        { from: "public", to: "public" },
      ],
      // An app without public/ gets an empty one, so the COPY above always has a source.
      afterBuild: "mkdir -p public",
      summary: `Next.js standalone: ${distDir}/standalone (server.js and the files it traced), ${distDir}/static, public/ and prodserver; not the app's node_modules.`,
      writable: `${distDir}/cache`,
    };
  },
};
