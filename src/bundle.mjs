// Bundle the CLI and the library into dist/pkg/ (ES modules, split into chunks loaded on demand),
// so the published `prodserver` package installs with no dependencies: an app lists prodserver in
// its production dependencies (as a Django app lists gunicorn), and every image it builds would
// otherwise carry dockerode, ssh2 (with a native addon built by node-gyp), handlebars, yargs,
// execa, zod and the prompts library. The image runs dist/prodserver-runtime.mjs (runtime/bundle.mjs);
// `prodserver serve` here loads that same file instead of a second copy of the runtime.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outdir = path.join(root, "dist/pkg");
// Chunk names carry content hashes: old ones would pile up in the published package.
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: {
    prodserver: path.join(root, "src/bin/prodserver.ts"),
    create: path.join(root, "src/cli/create.ts"),
    index: path.join(root, "src/index.ts"),
  },
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Whitespace and syntax only: identifiers keep their names, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  // Bundled CommonJS dependencies call require() and read __dirname/__filename. The banner is raw
  // text esbuild does not see, so its names are unique and `define` points the free uses at them:
  // a bundled ES module may declare its own top-level __dirname (yargs 18's shim does), and a
  // banner `const __dirname` then made the chunk a SyntaxError.
  define: { __dirname: "__psBannerDirname", __filename: "__psBannerFilename" },
  banner: {
    js: [
      "import { createRequire as __psCreateRequire } from 'node:module';",
      "import { fileURLToPath as __psFileURLToPath } from 'node:url';",
      "import { dirname as __psDirname } from 'node:path';",
      "const require = __psCreateRequire(import.meta.url);",
      "const __psBannerFilename = __psFileURLToPath(import.meta.url);",
      "const __psBannerDirname = __psDirname(__psBannerFilename);",
    ].join(" "),
  },
  plugins: [
    {
      // The runtime is its own bundle (start-up tuned, workers fork from it): the CLI's `serve`
      // and `healthcheck` import it instead of bundling runtime/main.ts a second time.
      name: "runtime-bundle",
      setup(b) {
        b.onResolve({ filter: /\/runtime\/main\.js$/ }, (a) => (a.importer.startsWith(path.join(root, "src")) ? { path: "../prodserver-runtime.mjs", external: true } : undefined));
      },
    },
    {
      // ssh2 (docker-modem's ssh:// transport) loads optional native addons inside try/catch and
      // falls back to JavaScript; a bundle carries no addon, so those requires throw as if absent.
      name: "no-native-addons",
      setup(b) {
        b.onResolve({ filter: /\.node$|^cpu-features$/ }, (a) => ({ path: a.path, namespace: "no-native" }));
        b.onLoad({ filter: /.*/, namespace: "no-native" }, (a) => ({
          contents: `throw new Error(${JSON.stringify(`native addon ${a.path} is not part of the prodserver bundle`)});`,
          loader: "js",
        }));
      },
    },
  ],
});
