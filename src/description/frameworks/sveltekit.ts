/**
 * SvelteKit with @sveltejs/adapter-node: `vite build` writes the adapter's `out` folder (default
 * `build`), whose `index.js` listens itself (`PORT`, `HOST`, or systemd's `LISTEN_FDS`) and whose
 * code imports only the production dependencies. The runtime runs `build` (as `node build` does) in
 * listen mode. The adapter is read from svelte.config.js, or vite.config.ts where `sv` 0.17+ keeps
 * the Kit config; another adapter (adapter-auto, vercel, static, ...) makes no Node server and is
 * refused with the command that switches it. Image: the output folder and the production dependencies.
 */
import type { Description } from "../types.js";
import { buildReason, builtWithDependencies, configFile, stringOption, stripComments } from "./folder.js";
import type { AppFolder, FrameworkAdapter, FrameworkDetection } from "./types.js";

/** The adapter package a Kit config imports, with the file, or null when none imports one. */
function adapterOf(app: AppFolder): { file: string; text: string; adapter: string } | null {
  for (const base of ["svelte.config", "vite.config"]) {
    const c = configFile(app, base);
    const m = c && /(?:from\s+|require\(\s*|import\(\s*)["'](@sveltejs\/adapter-[\w-]+|[\w@/-]*svelte-adapter-[\w-]+|@[\w-]+\/svelte-adapter[\w-]*)["']/.exec(stripComments(c.text));
    if (c && m) return { file: c.file, text: c.text, adapter: m[1] };
  }
  return null;
}

export const sveltekit: FrameworkAdapter = {
  frameworks: ["sveltekit"],
  title: "SvelteKit",
  detect(app: AppFolder): FrameworkDetection | null {
    if (!app.depends("@sveltejs/kit")) return null;
    const found = adapterOf(app);
    const out = (found?.adapter === "@sveltejs/adapter-node" && stringOption(found.text, "out")?.replace(/^\.\//, "").replace(/\/$/, "")) || "build";
    const script = app.script(/(^|\s|&&\s*)(vite|svelte-kit)\s+build\b/);
    const problem =
      found?.adapter !== "@sveltejs/adapter-node"
        ? {
            file: found?.file ?? "svelte.config.js",
            found: found ? `the adapter is ${found.adapter}, which builds no Node server` : "no SvelteKit adapter is imported",
            change: "switch to @sveltejs/adapter-node: `npx sv add sveltekit-adapter=adapter:node` (or `npm i -D @sveltejs/adapter-node` and import adapter from '@sveltejs/adapter-node' there)",
          }
        : script
          ? null
          : { file: "package.json", found: "no script runs `vite build`", change: 'add "build": "vite build" to "scripts"' };
    return {
      framework: "sveltekit",
      app: out,
      build: script ? { command: app.run(script), output: out } : null,
      appPort: null,
      built: [`${out}/index.js`],
      reasons: {
        framework: `"@sveltejs/kit" in the dependencies, ${found ? `${found.adapter} in ${found.file}` : "no adapter"}`,
        app: `adapter-node writes ${out}/index.js, which listens itself (as \`node ${out}\`): served in listen mode`,
        ...(script ? { build: buildReason(app, script, out) } : {}),
        port: "adapter-node reads PORT and HOST, which the runtime sets",
      },
      notes: [],
      problem,
    };
  },
  image: (d: Description) => builtWithDependencies(d.build?.output ?? "build", "SvelteKit (adapter-node)"),
};
