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
 * devDependencies of its package.json present in node_modules (those npm installs as optional
 * peers of production dependencies apart); whether the running user can write the app folder.
 */
export const PROBE_SCRIPT = `
const fs = require("fs"), path = require("path");
const dir = process.cwd();
const forbidden = fs.readdirSync(dir).filter((n) => /^\\.env($|\\.)/.test(n) || n === ".git" || n === ".prodserver");
let dev = [];
try { dev = Object.keys(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).devDependencies || {}); } catch {}
let lock = {};
try { lock = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/.package-lock.json"), "utf8")).packages || {}; } catch {}
const installed = dev.filter((n) => fs.existsSync(path.join(dir, "node_modules", n, "package.json")));
const optionalPeers = installed.filter((n) => (lock["node_modules/" + n] || {}).devOptional === true);
const devDepsInstalled = installed.filter((n) => !optionalPeers.includes(n));
let appWritable = true;
try { fs.accessSync(dir, fs.constants.W_OK); } catch { appWritable = false; }
process.stdout.write(JSON.stringify({ dir, forbidden, devDepsInstalled, optionalPeers, appWritable }));
`;

/** Output of {@link PROBE_SCRIPT}. `optionalPeers`: devDependencies npm installed all the same
 *  because a production dependency names them as optional peers (lockfile `devOptional`: npm
 *  omits those only when optional dependencies are omitted too; React Router's typescript). */
export interface ProbeResult {
  dir: string;
  forbidden: string[];
  devDepsInstalled: string[];
  optionalPeers?: string[];
  appWritable: boolean;
}

/** The `files` check. */
export const files: SmokeCheck = {
  name: "files",
  async run(ctx) {
    const r = await execIn(running(ctx).container, ["node", "-e", PROBE_SCRIPT]);
    if (r.exitCode !== 0) return fail(`probe failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`);
    const p = JSON.parse(r.stdout) as ProbeResult;
    const bad: string[] = [];
    if (p.forbidden.length) {
      const hint = p.forbidden.includes(".prodserver") ? " (.prodserver/ holds the build context's runtime bundle and npm cache: the Dockerfile must not copy it into the app folder)" : "";
      bad.push(`${p.dir} contains ${p.forbidden.join(", ")}${hint}`);
    }
    if (p.devDepsInstalled.length) bad.push(`devDependencies installed: ${p.devDepsInstalled.join(", ")}`);
    if (bad.length) return fail(bad.join("; "));
    const peers = p.optionalPeers?.length ? ` (installed by npm as optional peers of production dependencies: ${p.optionalPeers.join(", ")})` : "";
    return pass(`${p.dir}: no .env/.git/.prodserver, no devDependencies${peers}${p.appWritable ? " (app dir writable by the runtime user)" : ", read-only for the runtime user"}`);
  },
};
