// Bundle the runtime into one ESM file, dist/prodserver-runtime.mjs: what an image runs from the
// app's installed dependencies (node_modules/prodserver/dist/prodserver-runtime.mjs) and what
// `prodserver serve` loads. It needs nothing but node: the published package has no dependencies,
// so its fetch adapter (@hono/node-server) and metrics client (prom-client) are inside it.
// Start-up matters (every worker loads it before it can serve), hence the two plugins below.
import { build } from "esbuild";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { readFileSync } from "node:fs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const runtimeDir = path.join(root, "runtime");
// runtime/version.ts reads this instead of package.json (which is not next to the bundle in images).
const version = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).version;

// The metrics modules (prom-client and @opentelemetry/api: 166 of the bundle's 300 KB) run only
// with metrics_bind. They are built as a CommonJS bundle of their own and embedded in the main
// bundle as a string, compiled (vm.compileFunction) on the first import(): every process parses
// its whole script at start, and importing the bundle took 11.4 ms with them, 9.0 ms without
// (node 20, 2 cores; twice on the way to the first answer: arbiter, then worker).
const metrics = await build({
  stdin: { contents: 'export * from "./worker/metrics.ts"; export * from "./arbiter/metrics.ts";', resolveDir: runtimeDir, loader: "ts", sourcefile: "metrics-entry.ts" },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  write: false,
  // builtin.ts's createRequire needs a file URL; node: built-ins resolve from any base.
  define: { "import.meta.url": JSON.stringify("file:///prodserver-metrics.cjs") },
});
const metricsSource = metrics.outputFiles[0].text;

await build({
  entryPoints: [path.join(root, "runtime/main.ts")],
  outfile: path.join(root, "dist/prodserver-runtime.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  define: { PRODSERVER_VERSION: JSON.stringify(version) },
  // app-loader.ts import()s @hono/node-server only for fetch apps. esbuild hoists the static
  // imports of an ESM dependency's node built-ins (http2, stream, crypto) to the bundle's top, so
  // every process would still load http2; the CommonJS build's require() calls stay where they
  // are and run only when the module is first used.
  plugins: [
    {
      name: "embedded-metrics",
      setup(b) {
        b.onResolve({ filter: /^\.\/metrics\.js$/ }, (a) => (a.importer.startsWith(runtimeDir) ? { path: "metrics", namespace: "embedded" } : undefined));
        b.onLoad({ filter: /.*/, namespace: "embedded" }, () => ({
          contents: `const m = { exports: {} };\nrequire("node:vm").compileFunction(${JSON.stringify(metricsSource)}, ["require", "module", "exports"], { filename: "prodserver-metrics.cjs" })(require, m, m.exports);\nmodule.exports = m.exports;`,
          loader: "js",
        }));
      },
    },
    {
      // The bundle's own `import ... from "node:x"` become require("node:x"): node builds an ESM
      // facade for each built-in an ES module imports, enumerating every export, which for
      // node:fs runs the lazy ReadStream getter and loads all of node:stream.
      // bench/import-time.mjs: importing the bundle took 14.6 ms before these plugins, 7.7 after.
      name: "builtins-by-require",
      setup(b) {
        b.onResolve({ filter: /^node:/ }, (a) => (a.kind === "require-call" ? { path: a.path, external: true } : { path: a.path, namespace: "builtin" }));
        // Only a default export: named ones would have to be read when the bundle starts (a
        // getter such as util.parseArgs would load its module; on Node 24 fs.F_OK warns that it is
        // deprecated). So the runtime imports built-ins by default (`import util from "node:util"`
        // and `util.parseArgs`); a named import fails this build with "No matching export".
        b.onLoad({ filter: /.*/, namespace: "builtin" }, (a) => ({ contents: `export default require(${JSON.stringify(a.path)});\n`, loader: "js" }));
      },
    },
    {
      name: "lazy-cjs",
      setup(b) {
        const req = createRequire(path.join(root, "package.json"));
        b.onResolve({ filter: /^@hono\/node-server$/ }, () => ({ path: req.resolve("@hono/node-server") }));
      },
    },
  ],
  // A bundled CommonJS dependency may call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __prodserverCreateRequire } from 'node:module'; const require = __prodserverCreateRequire(import.meta.url);" },
});
