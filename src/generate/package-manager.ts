/**
 * Everything the generated Dockerfile (and the offline builder, src/docker/offline.ts) needs to
 * know about the app's package manager, computed in one place from the description, one getter per
 * fact as fly's dockerfile-node `gdf.js` does: which files the install reads, the production and
 * the development install (only the app's own dependencies in a workspace: `npm ci --workspace`,
 * `pnpm install --filter`, `yarn workspaces focus`), the build ARGs an offline build sets, and where
 * the image finds prodserver's runtime in the installed dependencies.
 *
 * pnpm and yarn come from corepack, at the version package.json's `packageManager` pins; corepack
 * downloads it from the npm registry npm is configured for (`.npmrc`), or COREPACK_NPM_REGISTRY.
 * Yarn 2+ installs with the node-modules linker in the image, also for Plug'n'Play projects: the
 * image runs the runtime and forks its workers by file path, with no PnP loader in each process.
 * All strings here are fixed or come from validated description fields.
 */
import path from "node:path";
import type { Description } from "../description/types.js";

/** The corepack release installed where the base image has none (Node 25 and later ship without it). */
export const COREPACK_VERSION = "0.34.6";

/** Where the offline build puts its caches, relative to the build context root (src/docker/offline.ts). */
export const OFFLINE_DIR = ".prodserver/offline";
/** The same folder inside the image's build stages (WORKDIR is /app). */
export const OFFLINE_DIR_IN_IMAGE = `/app/${OFFLINE_DIR}`;

/** The runtime's file inside the installed `prodserver` package. */
export const RUNTIME_IN_PACKAGE = "dist/prodserver-runtime.mjs";

/**
 * Files a package manager reads to install (kept at any depth by the Dockerfile's manifests stage,
 * copied into the offline builder's scratch tree): manifests, lockfiles, workspace and registry
 * config. Folders in {@link PM_DIRS} are kept whole.
 */
export const PM_FILES = [
  "package.json",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "pnpm-lock.yaml",
  "pnpm-workspace.yaml",
  ".pnpmfile.cjs",
  "yarn.lock",
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
] as const;
/** Folders (relative to the workspace root) kept whole: Yarn's releases/plugins/patches/cache, patch
 *  files (pnpm `patchedDependencies`, patch-package), and the offline build's caches. */
export const PM_DIRS = [".yarn", "patches", OFFLINE_DIR] as const;
/** Registry configuration that may hold tokens: never left in an image layer the runtime copies. */
export const RC_FILES = [".npmrc", ".yarnrc", ".yarnrc.yml"] as const;

/** The package-manager facts of one description. */
export interface PackageManagerFacts {
  name: Description["packageManager"];
  /** pnpm and yarn run through corepack. */
  corepack: boolean;
  /** The workspace root in the image (`/app`) and the app folder there (`/app` or `/app/apps/web`). */
  rootInImage: string;
  appInImage: string;
  /** Shell run before the package manager in a RUN: corepack set up (pnpm/yarn), else "". */
  setup: string;
  /** Production install, run at the workspace root (shell, one line). */
  prodInstall: string;
  /** Install with dev dependencies for the build stage (shell, one line). */
  devInstall: string;
  /** Build ARGs an offline build sets (the package managers' own environment variables). */
  offlineArgs: string[];
  /** Every build ARG the install stages declare: {@link offlineArgs}, and for corepack the
   *  registry it downloads pnpm/yarn from and its signature check (COREPACK_INTEGRITY_KEYS=0 for a
   *  registry that does not sign packages). */
  buildArgs: string[];
  /** Absolute path of the runtime in the image (in the installed `prodserver` package). */
  runtimeInImage: string;
  /** The runtime relative to the app folder, for hosts (systemd): joined to WorkingDirectory. */
  runtimeFromApp: string;
  /** Environment for the deps/build stages (`NAME=value`), e.g. Yarn's linker. */
  env: string[];
  /** Shell of the manifests stage: {@link pruneToManifests}. */
  prune: string;
  /** Shell removing registry configuration and offline caches: {@link removeRegistryConfig}. */
  clean: string;
  /** The build output relative to the workspace root (`dist`, `apps/web/dist`); "" without a build. */
  buildOutput: string;
  /** How to add prodserver to the app: argv run in the app folder (`npm install prodserver@^1.0.0`). */
  addDependency(spec: string): string[];
}

const YARN1 = "yarn --version | grep -q '^1[.]'";

function installs(d: Description): Pick<PackageManagerFacts, "prodInstall" | "devInstall"> {
  const ws = d.workspace;
  switch (d.packageManager) {
    case "pnpm": {
      // NODE_ENV=production would make pnpm skip devDependencies in the build stage.
      const filter = ws ? ` --filter ${shellQuote(`${ws.package}...`)}` : "";
      return {
        prodInstall: `pnpm install --frozen-lockfile --prod${filter}`,
        devInstall: `NODE_ENV=development pnpm install --frozen-lockfile${filter}`,
      };
    }
    case "yarn": {
      // Yarn 1 has no per-workspace install: a Yarn 1 workspace gets every workspace's
      // production dependencies. Yarn 2+ focuses on the app (`workspaces focus`, built into Yarn 4).
      const focus = ws ? `yarn workspaces focus ${shellQuote(ws.package)}` : "yarn workspaces focus --all";
      return {
        prodInstall: `if ${YARN1}; then yarn install --frozen-lockfile --production=true --non-interactive; else ${focus} --production; fi`,
        devInstall: `if ${YARN1}; then yarn install --frozen-lockfile --production=false --non-interactive; else ${ws ? focus : "yarn install --immutable"}; fi`,
      };
    }
    default: {
      const w = ws ? ` --workspace ${shellQuote(ws.path)}` : "";
      return {
        prodInstall: `npm ci --omit=dev${w} --no-audit --no-fund`,
        devInstall: `npm ci --include=dev${w} --no-audit --no-fund`,
      };
    }
  }
}

/** A word for sh: as is when it is plain, else single-quoted. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9@%_+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Where `prodserver` is installed relative to the workspace root: pnpm links an app's direct
 *  dependencies into the app's own node_modules; npm and yarn hoist them to the root. */
function runtimePackageDir(d: Description): string {
  const ws = d.workspace;
  return ws && d.packageManager === "pnpm" ? `${ws.path}/node_modules/prodserver` : "node_modules/prodserver";
}

/**
 * The package-manager facts of a validated description; see {@link PackageManagerFacts}.
 * Pure; the values are fixed strings or validated description fields.
 */
export function packageManagerFacts(d: Description): PackageManagerFacts {
  const ws = d.workspace;
  const corepack = d.packageManager !== "npm";
  const appInImage = ws ? `/app/${ws.path}` : "/app";
  const runtimeInImage = `/app/${runtimePackageDir(d)}/${RUNTIME_IN_PACKAGE}`;
  const offlineArgs = ["npm_config_offline", "npm_config_cache"];
  if (corepack) offlineArgs.push("COREPACK_HOME", "COREPACK_ENABLE_NETWORK");
  if (d.packageManager === "pnpm") offlineArgs.push("npm_config_store_dir");
  if (d.packageManager === "yarn") offlineArgs.push("YARN_CACHE_FOLDER", "YARN_ENABLE_GLOBAL_CACHE", "YARN_ENABLE_NETWORK", "YARN_ENABLE_OFFLINE_MODE");
  const setup = corepack
    ? // corepack fetches pnpm/yarn from the registry npm is configured for (.npmrc), unless set;
      // Node 25+ images ship no corepack: it is installed from there too (or the offline npm cache).
      'r=$(npm config get registry) && export COREPACK_NPM_REGISTRY="${COREPACK_NPM_REGISTRY:-${r%/}}" \\\n' +
      ` && (command -v corepack >/dev/null || npm install -g corepack@${COREPACK_VERSION} --registry "$r" --no-audit --no-fund) && corepack enable \\\n && `
    : "";
  return {
    name: d.packageManager,
    corepack,
    rootInImage: "/app",
    appInImage,
    setup,
    ...installs(d),
    offlineArgs,
    buildArgs: corepack ? [...offlineArgs, "COREPACK_NPM_REGISTRY", "COREPACK_INTEGRITY_KEYS"] : offlineArgs,
    runtimeInImage,
    runtimeFromApp: path.posix.relative(appInImage, runtimeInImage),
    prune: pruneToManifests(),
    clean: removeRegistryConfig(),
    buildOutput: d.build ? (ws ? `${ws.path}/${d.build.output}` : d.build.output) : "",
    env: d.packageManager === "yarn" ? ["YARN_NODE_LINKER=node-modules", "YARN_ENABLE_TELEMETRY=0"] : [],
    addDependency(spec: string): string[] {
      switch (d.packageManager) {
        case "pnpm":
          return ["pnpm", "add", spec];
        case "yarn":
          return ["yarn", "add", spec];
        default:
          return ["npm", "install", "--save", spec, "--no-audit", "--no-fund"];
      }
    },
  };
}

/**
 * `find` arguments (after `find .`) that delete every file a package manager does not read, then
 * the folders left empty: the Dockerfile's manifests stage, so the install layer stays cached
 * until a manifest, a lockfile or the registry config changes.
 */
export function pruneToManifests(): string {
  const keepDirs = PM_DIRS.map((p) => `-path ./${p}`).join(" -o ");
  const keepFiles = PM_FILES.map((f) => `-name ${f}`).join(" -o ");
  return `find . -mindepth 1 \\( ${keepDirs} \\) -prune \\\n` + `    -o -type f ! \\( ${keepFiles} \\) -exec rm -f {} + \\\n` + " && find . -mindepth 1 -depth -type d -empty -delete";
}

/** Shell that removes registry configuration (tokens) and the offline caches from /app, at any depth. */
export function removeRegistryConfig(): string {
  const names = RC_FILES.map((f) => `-name ${f}`).join(" -o ");
  return `rm -rf .prodserver && find . -name node_modules -prune -o \\( ${names} \\) -type f -exec rm -f {} +`;
}
