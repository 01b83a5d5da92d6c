// Bundle the runtime into one ESM file, dist/prodserver-runtime.mjs, that `prodserver build`
// copies into the image's build context: it runs with nothing but node (no node_modules).
import { build } from "esbuild";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
await build({
  entryPoints: [path.join(root, "runtime/main.ts")],
  outfile: path.join(root, "dist/prodserver-runtime.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  // app-loader.ts import()s @hono/node-server only for fetch apps. esbuild hoists the static
  // imports of an ESM dependency's node built-ins (http2, stream, crypto) to the bundle's top, so
  // every process would still load http2; the CommonJS build's require() calls stay where they
  // are and run only when the module is first used.
  plugins: [
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
