/**
 * The Docker build context: the app folder as a tar stream, filtered like `docker build` filters
 * it (`.dockerignore`, via @balena/dockerignore, a port of moby's dockerignore.go), plus the files
 * prodserver adds under `.prodserver/` (the runtime bundle and, for offline builds, an npm cache).
 *
 * Never sent whatever `.dockerignore` says: `.env`, `.env.*`, `.git`, `node_modules` (at any depth),
 * the user's own `.prodserver/` and root `Dockerfile` (ours replaces it).
 */
import { promises as fs, type Dirent } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import dockerignoreModule from "@balena/dockerignore";
import tarfs from "tar-fs";

/** Options of {@link createBuildContext}. */
export interface BuildContextOptions {
  /** Full text of the Dockerfile to build (the generator's `renderDockerfile(d, { offlineNpmCache })`). */
  dockerfile: string;
  /** Host directory with a filled npm cache (see `fillNpmCache`), shipped as `.prodserver/npm-cache/`. */
  offlineNpmCache?: string;
  /** Path of the runtime bundle (`dist/prodserver-runtime.mjs`), shipped as `.prodserver/runtime/prodserver.mjs`. */
  runtimeBundle: string;
}

// The package is CommonJS (`module.exports = ignore; ignore.default = ignore`) typed as an ES
// default export; under NodeNext TS sees the default import as the module, so take `.default`.
const dockerignore = dockerignoreModule.default;

/** Names that never go into a build context, at any depth (secrets, VCS data, host-built modules). */
const NEVER_AT_ANY_DEPTH = [/^\.env$/, /^\.env\..*/, /^\.git$/, /^node_modules$/];
/** Root entries prodserver owns in the context. */
const NEVER_AT_ROOT = new Set([".prodserver", "Dockerfile"]);

/** Path (in the build context) of the runtime bundle; the Dockerfile COPYs it to /opt/prodserver. */
export const CONTEXT_RUNTIME_PATH = ".prodserver/runtime/prodserver.mjs";
/** Path (in the build context) of the offline npm cache; the offline Dockerfile COPYs it to /tmp/npm-cache. */
export const CONTEXT_NPM_CACHE_PATH = ".prodserver/npm-cache";

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
  const patterns = ignoreText.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
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
 * Shape of the archive: the app files from {@link listContextFiles}, `Dockerfile` (= `opts.dockerfile`),
 * `.dockerignore` (the app's, plus `!` exceptions for the two `.prodserver/` paths below),
 * `.prodserver/runtime/prodserver.mjs` (= `opts.runtimeBundle`, mode 0644) and, when
 * `opts.offlineNpmCache` is set, that directory's contents under `.prodserver/npm-cache/`.
 * Generated entries get a fixed mtime (epoch) so the classic builder's cache sees identical content.
 * @param dir the app folder (contains package.json)
 * @throws Error naming the argument when `dockerfile` is empty, `runtimeBundle` is missing (hint:
 *   `npm run build` makes dist/prodserver-runtime.mjs) or `offlineNpmCache` is not a directory.
 *   Stream errors (a file vanishing mid-pack) surface as an 'error' event on the returned stream.
 */
export async function createBuildContext(dir: string, opts: BuildContextOptions): Promise<Readable> {
  if (!opts || typeof opts.dockerfile !== "string" || !opts.dockerfile.trim()) {
    throw new Error("createBuildContext: opts.dockerfile must be the Dockerfile text (non-empty string)");
  }
  const bundle = await fs.readFile(opts.runtimeBundle).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `createBuildContext: opts.runtimeBundle ${opts.runtimeBundle} cannot be read (${e.code}); ` +
        "run `npm run build` in prodserver to produce dist/prodserver-runtime.mjs",
    );
  });
  if (opts.offlineNpmCache !== undefined) {
    const st = await fs.stat(opts.offlineNpmCache).catch(() => null);
    if (!st?.isDirectory()) {
      throw new Error(`createBuildContext: opts.offlineNpmCache ${opts.offlineNpmCache} is not a directory`);
    }
  }
  const root = path.resolve(dir);
  const files = await listContextFiles(root);
  const fixed = new Date(0);
  // `.dockerignore` goes in with exceptions for what we add: BuildKit (unlike the classic builder,
  // which leaves filtering to the client) applies it to the context it receives, and a generated
  // `.prodserver/` exclusion would otherwise hide the runtime and the npm cache from COPY.
  const ignoreIndex = files.indexOf(".dockerignore");
  if (ignoreIndex >= 0) files.splice(ignoreIndex, 1);
  const userIgnore = ignoreIndex >= 0 ? await fs.readFile(path.join(root, ".dockerignore"), "utf8") : "";
  const dockerignoreText =
    `${userIgnore}${userIgnore && !userIgnore.endsWith("\n") ? "\n" : ""}` +
    `# added by prodserver build: files prodserver puts into the build context\n!${CONTEXT_RUNTIME_PATH}\n` +
    (opts.offlineNpmCache !== undefined ? `!${CONTEXT_NPM_CACHE_PATH}\n` : "");

  const addGenerated = (pack: tarfs.Pack): void => {
    pack.entry({ name: "Dockerfile", mode: 0o644, mtime: fixed }, opts.dockerfile);
    pack.entry({ name: ".dockerignore", mode: 0o644, mtime: fixed }, dockerignoreText);
    pack.entry({ name: CONTEXT_RUNTIME_PATH, mode: 0o644, mtime: fixed }, bundle);
    pack.finalize();
  };
  const addCache = (pack: tarfs.Pack): void => {
    if (opts.offlineNpmCache === undefined) return addGenerated(pack);
    tarfs.pack(opts.offlineNpmCache, {
      pack,
      finalize: false,
      sort: true,
      // cacache content is addressed by hash; a fixed mtime keeps the layer cache warm across fills.
      map: (h) => ({ ...h, name: path.posix.join(CONTEXT_NPM_CACHE_PATH, h.name), mtime: fixed, uid: 0, gid: 0 }),
      finish: addGenerated,
    } as tarfs.PackOptions);
  };
  // `entries` lists files only, so tar-fs never walks on its own and never sees excluded paths.
  const pack = tarfs.pack(root, {
    entries: files,
    finalize: false,
    finish: addCache,
    map: (h) => ({ ...h, uid: 0, gid: 0, uname: "root", gname: "root" }),
  } as tarfs.PackOptions);
  // tar-fs streams are streamx streams; hand out a Node stream (dockerode pipes it into the request).
  return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
}
