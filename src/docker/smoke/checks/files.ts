/**
 * `files`: what must not ship in the app folder (`.env*`, `.git`, `.prodserver`) and no
 * devDependencies installed, read inside the container with the image's own `node` (it may
 * have no shell).
 */
import type { SmokeCheck } from "../types.js";
import { fail, pass, running } from "../support.js";
import { execIn } from "../../inspect.js";

/**
 * The filesystem probe, run as `node -e PROBE_SCRIPT` inside the container. Prints JSON
 * ({@link ProbeResult}) for the working directory: `.env*`, `.git`, `.prodserver` at its top;
 * devDependencies of its package.json present in node_modules; whether the running user can
 * write the app folder.
 */
export const PROBE_SCRIPT = `
const fs = require("fs"), path = require("path");
const dir = process.cwd();
const forbidden = fs.readdirSync(dir).filter((n) => /^\\.env($|\\.)/.test(n) || n === ".git" || n === ".prodserver");
let dev = [];
try { dev = Object.keys(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).devDependencies || {}); } catch {}
const devDepsInstalled = dev.filter((n) => fs.existsSync(path.join(dir, "node_modules", n, "package.json")));
let appWritable = true;
try { fs.accessSync(dir, fs.constants.W_OK); } catch { appWritable = false; }
process.stdout.write(JSON.stringify({ dir, forbidden, devDepsInstalled, appWritable }));
`;

/** Output of {@link PROBE_SCRIPT}. */
export interface ProbeResult { dir: string; forbidden: string[]; devDepsInstalled: string[]; appWritable: boolean }

/** The `files` check. */
export const files: SmokeCheck = {
  name: "files",
  async run(ctx) {
    const r = await execIn(running(ctx).container, ["node", "-e", PROBE_SCRIPT]);
    if (r.exitCode !== 0) return fail(`probe failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`);
    const p = JSON.parse(r.stdout) as ProbeResult;
    const bad: string[] = [];
    if (p.forbidden.length) {
      const hint = p.forbidden.includes(".prodserver")
        ? " (.prodserver/ holds the build context's runtime bundle and npm cache: the Dockerfile must not copy it into the app folder)"
        : "";
      bad.push(`${p.dir} contains ${p.forbidden.join(", ")}${hint}`);
    }
    if (p.devDepsInstalled.length) bad.push(`devDependencies installed: ${p.devDepsInstalled.join(", ")}`);
    if (bad.length) return fail(bad.join("; "));
    return pass(`${p.dir}: no .env/.git/.prodserver, no devDependencies${p.appWritable ? " (app dir writable by the runtime user)" : ", read-only for the runtime user"}`);
  },
};
