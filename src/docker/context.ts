/**
 * The Docker build context: the app folder (or, for an app in a workspace, the workspace root) as a
 * tar stream, filtered like `docker build` filters it (`.dockerignore`, via @balena/dockerignore, a
 * port of moby's dockerignore.go), plus, for offline builds, the package caches under
 * `.prodserver/offline/` (./offline.ts).
 *
 * Never sent whatever `.dockerignore` says: `.env`, `.env.*`, `.git`, `node_modules` (at any depth)
 * and the user's own `.prodserver/` (generated-file state). Always sent, as the docker CLI does:
 * the Dockerfile being built and `.dockerignore`.
 */
import { promises as fs, type Dirent } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import dockerignoreModule from "@balena/dockerignore";
import tarfs from "tar-fs";
import { OFFLINE_DIR } from "../generate/package-manager.js";

/** Options of {@link createBuildContext}. */
export interface BuildContextOptions {
  /** Path of the Dockerfile inside the context, POSIX (`Dockerfile`, `apps/web/Dockerfile`); default `Dockerfile`. */
  dockerfilePath?: string;
  /** Dockerfile text to put at `dockerfilePath` instead of the file on disk (an app that has none yet). */
  dockerfile?: string;
  /** Host folder with the offline caches (see `fillOfflineCache`), shipped as `.prodserver/offline/`. */
  offlineDir?: string;
}

// The package is CommonJS (`module.exports = ignore; ignore.default = ignore`) typed as an ES
// default export; under NodeNext TS sees the default import as the module, so take `.default`.
const dockerignore = dockerignoreModule.default;

/** Names that never go into a build context, at any depth (secrets, VCS data, host-built modules). */
const NEVER_AT_ANY_DEPTH = [/^\.env$/, /^\.env\..*/, /^\.git$/, /^node_modules$/];
/** Root entries prodserver owns in the context. */
const NEVER_AT_ROOT = new Set([".prodserver"]);

/** Path (in the build context) of the offline caches; the Dockerfile's build ARGs point there. */
export const CONTEXT_OFFLINE_PATH = OFFLINE_DIR;

function neverIncluded(rel: string): boolean {
  const parts = rel.split("/");
  if (parts.length === 1 && NEVER_AT_ROOT.has(rel)) return true;
  return parts.some((p) => NEVER_AT_ANY_DEPTH.some((re) => re.test(p)));
}

/**
 * Lists the app-folder paths (POSIX, relative, sorted; files and symlinks only, directories are
 * implied) that go into the build context.
 *
 * `.dockerignore` semantics are Docker's: a path is excluded when the last matching pattern
 * excludes it; an excluded directory is still walked when the file has `!` exceptions (as
 * moby's builder does), otherwise it is skipped whole.
 * @throws Error naming `dir` when it is not a readable directory.
 */
export async function listContextFiles(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const st = await fs.stat(root).catch(() => null);
  if (!st?.isDirectory()) throw new Error(`build context: ${root} is not a directory`);
  const ignoreText = await fs.readFile(path.join(root, ".dockerignore"), "utf8").catch(() => "");
  const patterns = ignoreText
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const ig = dockerignore({ ignorecase: false }).add(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith("!"));
  const out: string[] = [];
  async function walk(relDir: string): Promise<void> {
    const entries: Dirent[] = await fs.readdir(path.join(root, relDir), { withFileTypes: true });
    for (const e of entries) {
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (neverIncluded(rel)) continue;
      const ignored = ig.ignores(rel);
      if (e.isDirectory()) {
        if (ignored && !hasExceptions) continue;
        await walk(rel);
      } else if (e.isFile() || e.isSymbolicLink()) {
        // `.dockerignore` is always sent, as the docker CLI does: the daemon reads it and drops
        // `Dockerfile`/`.dockerignore` from COPY sources when they are listed (moby remotecontext).
        if (!ignored || rel === ".dockerignore") out.push(rel);
      }
      // sockets, fifos, devices: not representable in a build context, skipped as docker does.
    }
  }
  await walk("");
  return out.sort();
}

/**
 * Creates the build context for `docker build` as a tar stream (uncompressed).
 *
 * Shape of the archive: the files from {@link listContextFiles}, the Dockerfile at
 * `opts.dockerfilePath` (the folder's own, or `opts.dockerfile`), `.dockerignore` (the folder's,
 * plus a `!` exception for `.prodserver/offline` when it is sent) and, with `opts.offlineDir`, that
 * folder's contents under `.prodserver/offline/`. Generated entries get a fixed mtime (epoch) and
 * owner root, so the layer cache sees identical content.
 * @param dir the context root (contains package.json)
 * @throws Error naming the argument when `dockerfilePath` is not a relative path inside `dir`,
 *   when there is no Dockerfile at it and no `opts.dockerfile`, or when `offlineDir` is not a
 *   directory. Stream errors (a file vanishing mid-pack) surface as an 'error' event on the stream.
 */
export async function createBuildContext(dir: string, opts: BuildContextOptions = {}): Promise<Readable> {
  const root = path.resolve(dir);
  const dockerfilePath = opts.dockerfilePath ?? "Dockerfile";
  if (path.posix.isAbsolute(dockerfilePath) || path.posix.normalize(dockerfilePath).startsWith("..")) {
    throw new Error(`createBuildContext: opts.dockerfilePath ${JSON.stringify(dockerfilePath)} must be a relative path inside ${root}`);
  }
  const dockerfile =
    opts.dockerfile ??
    (await fs.readFile(path.join(root, dockerfilePath), "utf8").catch(() => {
      throw new Error(`createBuildContext: no ${dockerfilePath} in ${root} (run \`prodserver generate dockerfile\`, or pass opts.dockerfile)`);
    }));
  if (opts.offlineDir !== undefined) {
    const st = await fs.stat(opts.offlineDir).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`createBuildContext: opts.offlineDir ${opts.offlineDir} is not a directory`);
  }
  const files = (await listContextFiles(root)).filter((f) => f !== dockerfilePath && f !== ".dockerignore");
  const fixed = new Date(0);
  // `.dockerignore` goes in with an exception for what we add: BuildKit (unlike the classic builder,
  // which leaves filtering to the client) applies it to the context it receives, and a generated
  // `.prodserver/` exclusion would otherwise hide the offline caches from COPY.
  const userIgnore = await fs.readFile(path.join(root, ".dockerignore"), "utf8").catch(() => "");
  const dockerignoreText =
    opts.offlineDir === undefined
      ? userIgnore
      : `${userIgnore}${userIgnore && !userIgnore.endsWith("\n") ? "\n" : ""}# added by prodserver build --offline: the package caches\n!${CONTEXT_OFFLINE_PATH}\n`;

  const addGenerated = (pack: tarfs.Pack): void => {
    pack.entry({ name: dockerfilePath, mode: 0o644, mtime: fixed }, dockerfile);
    if (dockerignoreText) pack.entry({ name: ".dockerignore", mode: 0o644, mtime: fixed }, dockerignoreText);
    pack.finalize();
  };
  const addOffline = (pack: tarfs.Pack): void => {
    if (opts.offlineDir === undefined) return addGenerated(pack);
    tarfs.pack(opts.offlineDir, {
      pack,
      finalize: false,
      sort: true,
      // Content-addressed caches: a fixed mtime keeps the layer cache warm across fills.
      map: (h) => ({ ...h, name: path.posix.join(CONTEXT_OFFLINE_PATH, h.name), mtime: fixed, uid: 0, gid: 0 }),
      finish: addGenerated,
    } as tarfs.PackOptions);
  };
  // `entries` lists files only, so tar-fs never walks on its own and never sees excluded paths.
  const pack = tarfs.pack(root, {
    entries: files,
    finalize: false,
    finish: addOffline,
    map: (h) => ({ ...h, uid: 0, gid: 0, uname: "root", gname: "root" }),
  } as tarfs.PackOptions);
  // tar-fs streams are streamx streams; hand out a Node stream (dockerode pipes it into the request).
  return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
}
