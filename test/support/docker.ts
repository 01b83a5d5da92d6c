/**
 * Helpers for end-to-end tests against the real Docker Engine (/var/run/docker.sock): skip
 * decision, a dockerode client, scratch copies of example apps, and cleanup of the images and
 * containers a test created (by id, never by name pattern).
 */
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Dockerode from "dockerode";
import { execa } from "execa";

/** The repository root (this file compiles to dist/test/support/docker.js). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const SOCKET = "/var/run/docker.sock";
/** The runtime bundle built by `npm run build`. */
export const RUNTIME_BUNDLE = path.join(REPO_ROOT, "dist/prodserver-runtime.mjs");

/** node:test `skip` value: false when Docker is usable, else the reason (printed by the runner). */
export const dockerSkip: string | false = existsSync(SOCKET) ? false : `Docker Engine socket ${SOCKET} is absent: e2e image tests skipped`;

const baseImages = new Map<string, Promise<void>>();

/**
 * Makes sure the local base image `node:<major>-bookworm-slim` exists (test/support/base-image.sh
 * builds it once: no container registry is reachable here); later calls are free.
 * @throws Error with the script's output when it fails.
 */
export function ensureBaseImage(major: string): Promise<void> {
  let p = baseImages.get(major);
  if (!p) {
    p = execa("bash", [path.join(REPO_ROOT, "test/support/base-image.sh"), major], { env: { DOCKER: "/usr/bin/docker" }, all: true, reject: false }).then((r) => {
      if (r.exitCode !== 0) throw new Error(`base image node:${major}-bookworm-slim could not be built:\n${r.all}`);
    });
    baseImages.set(major, p);
  }
  return p;
}

/** A client on the local engine. */
export function dockerClient(): Dockerode {
  return new Dockerode({ socketPath: SOCKET });
}

/**
 * Copies an app folder to a fresh temp dir (without node_modules, dist, .prodserver) and returns
 * the new path. `name` is used in the temp dir's name only.
 */
export async function scratchCopy(src: string, name: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `prodserver-e2e-${name}-`));
  await fs.cp(src, dir, {
    recursive: true,
    filter: (p) => !/(^|\/)(node_modules|dist|\.prodserver)(\/|$)/.test(path.relative(src, p)),
  });
  return dir;
}

/** Tracks what a test file created and removes it at the end (images by id, containers by id, dirs). */
export class Cleanup {
  private images = new Set<string>();
  private containers = new Set<string>();
  private dirs = new Set<string>();
  constructor(private docker: Dockerode) {}
  image(id: string): void {
    this.images.add(id);
  }
  container(id: string): void {
    this.containers.add(id);
  }
  dir(p: string): void {
    this.dirs.add(p);
  }
  /** Removes everything tracked; never throws (reports leftovers on stderr). */
  async run(): Promise<void> {
    for (const id of this.containers) {
      await this.docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) console.error(`cleanup: container ${id}: ${String(e)}`);
        });
    }
    // Newest first: an image goes before the layers it was built on.
    for (const id of [...this.images].reverse()) {
      // Safety net: never remove an image carrying a tag the tests did not create (a base image).
      const tags = await this.docker
        .getImage(id)
        .inspect()
        .then(
          (i) => i.RepoTags ?? [],
          () => null,
        );
      if (tags === null) continue;
      const foreign = tags.filter((t) => !t.startsWith("prodserver-e2e-"));
      if (foreign.length) {
        console.error(`cleanup: not removing ${id}: tagged ${foreign.join(", ")}`);
        continue;
      }
      await this.docker
        .getImage(id)
        .remove({ force: true })
        .catch((e: { statusCode?: number }) => {
          // 404: already gone with a child image; 409: still the parent of an image that is not ours.
          if (e.statusCode !== 404 && e.statusCode !== 409) console.error(`cleanup: image ${id}: ${String(e)}`);
        });
    }
    for (const d of this.dirs) await fs.rm(d, { recursive: true, force: true });
  }
}

/**
 * Whether a path exists inside an image, read from a created (never started) container's
 * filesystem via the archive API (`GET /containers/{id}/archive`: 404 when absent).
 */
export async function pathInImage(docker: Dockerode, imageId: string, p: string, cleanup: Cleanup): Promise<boolean> {
  const c = await docker.createContainer({ Image: imageId, Cmd: ["node", "-e", "0"] });
  cleanup.container(c.id);
  try {
    const stream = (await c.getArchive({ path: p })) as NodeJS.ReadableStream;
    stream.resume();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  } finally {
    await c.remove({ force: true }).catch(() => {});
  }
}
