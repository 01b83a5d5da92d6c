/**
 * NestJS (`@nestjs/cli new`): `nest build` compiles with the tsconfig nest-cli.json names
 * (`compilerOptions.tsConfigPath`, else `tsconfig.build.json` when it exists, else
 * `tsconfig.json`) into its `outDir` (default `dist`), and the production command is
 * `node dist/main` (`start:prod`). The entry is where `nest start` looks for it
 * (@nestjs/cli `start.action`): `<outDir>/<sourceRoot>/<entryFile>.js` when that exists, else
 * `<outDir>/<entryFile>.js` — `sourceRoot` (default `src`) and `entryFile` (default `main`) from
 * nest-cli.json. Before a build, the tsconfig's `rootDir` tells which one tsc will write.
 * `main.ts` awaits `app.listen(process.env.PORT ?? 3000)` and exports nothing: listen mode.
 * Image: `dist` and the production dependencies; no sources.
 */
import path from "node:path";
import type { Description } from "../types.js";
import { buildReason, builtWithDependencies, cleanPath, needsProduction, parseJsonc, scriptCommand, tsconfigDirs } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection } from "./types.js";

/** nest-cli.json's `sourceRoot`, `entryFile` and tsconfig (as @nestjs/cli's defaults fill them). */
function nestConfig(app: AppFolder): { sourceRoot: string; entryFile: string; tsconfig: string; webpack: boolean } {
  const cfg = parseJsonc(app.read("nest-cli.json") ?? app.read(".nestcli.json") ?? "null") ?? {};
  const co = cfg.compilerOptions ?? {};
  const builderPath = typeof co.builder === "object" && co.builder?.type === "tsc" ? co.builder.options?.configPath : undefined;
  const tsconfig = cleanPath(co.tsConfigPath ?? builderPath) ?? (app.has("tsconfig.build.json") ? "tsconfig.build.json" : "tsconfig.json");
  const webpack = co.webpack === true || co.builder === "webpack" || co.builder?.type === "webpack";
  return { sourceRoot: cleanPath(cfg.sourceRoot) ?? "src", entryFile: typeof cfg.entryFile === "string" ? cfg.entryFile : "main", tsconfig, webpack };
}

export const nestjs: FrameworkAdapter = {
  frameworks: ["nestjs"],
  title: "NestJS",
  detect(app: AppFolder): FrameworkDetection | null {
    if (!app.depends("@nestjs/core")) return null;
    const cfg = nestConfig(app);
    const ts = tsconfigDirs(app, cfg.tsconfig);
    const outDir = ts.outDir && ts.outDir !== "." ? ts.outDir : "dist";
    // Where tsc puts <sourceRoot>/<entryFile>.ts: under outDir, relative to rootDir (webpack bundles to outDir/main.js).
    const nested = path.posix.join(outDir, cfg.sourceRoot, cfg.entryFile);
    const flat = path.posix.join(outDir, cfg.entryFile);
    const entry = cfg.webpack ? flat : app.has(`${nested}.js`) ? nested : app.has(`${flat}.js`) ? flat : ts.rootDir === "." ? nested : flat;
    const script = app.script(/(^|\s|&&\s*)nest\s+build\b/) ?? app.script(/(^|\s)tsc\b/);
    const prod = scriptCommand(app, ["start:prod", "start"], /^node\s/);
    return {
      framework: "nestjs",
      app: entry,
      build: script ? { command: app.run(script), output: outDir } : null,
      appPort: null,
      built: [`${entry}.js`],
      reasons: {
        framework: '"@nestjs/core" in the dependencies',
        app: `nest build writes ${entry}.js (${cfg.tsconfig} outDir ${outDir}, nest-cli sourceRoot ${cfg.sourceRoot}, entryFile ${cfg.entryFile})${prod ? `; scripts.start:prod runs \`${prod}\`` : ""}: it calls app.listen() itself, served in listen mode`,
        ...(script ? { build: buildReason(app, script, outDir) } : {}),
        port: "main.ts listens on PORT, which the runtime sets",
      },
      notes: [],
      problem: script
        ? needsProduction(app, "@nestjs/core", "`node dist/main` loads it")
        : { file: "package.json", found: "no script runs `nest build`", change: 'add "build": "nest build" to "scripts"' },
    };
  },
  image: (d: Description) => builtWithDependencies(d.build?.output ?? "dist", "NestJS"),
};
