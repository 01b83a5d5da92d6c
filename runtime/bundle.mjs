// Bundle the runtime into one ESM file, dist/prodserver-runtime.mjs, that `prodserver build`
// copies into the image's build context: it runs with nothing but node (no node_modules).
import { build } from "esbuild";
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
  // A bundled CommonJS dependency may call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __prodserverCreateRequire } from 'node:module'; const require = __prodserverCreateRequire(import.meta.url);" },
});
