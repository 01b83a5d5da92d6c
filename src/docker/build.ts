/**
 * Image build through the Docker Engine API (`POST /build`, classic builder, as `docker build`
 * with DOCKER_BUILDKIT=0) via dockerode's `buildImage` + `modem.followProgress`, with the JSON
 * message stream parsed into typed {@link BuildEvent}s.
 *
 * Stream shapes handled (moby `builder/dockerfile` + `pkg/jsonmessage`): `{stream:"Step 3/14 : RUN ..."}`,
 * `{stream:" ---> Running in <id>"}`, `{stream:" ---> Using cache"}`, `{stream:" ---> <id>"}`,
 * `{aux:{ID:"sha256:..."}}`, `{stream:"Successfully tagged x:y"}`, `{status, progress}` (base pulls),
 * `{error, errorDetail:{code,message}}`.
 */
import type Dockerode from "dockerode";
import type { Readable } from "node:stream";

/** One parsed build event; `seconds` is the time since the build started. */
export type BuildEvent =
  | { type: "step"; index: number; total: number; instruction: string; seconds: number }
  | { type: "output"; text: string; step: number; seconds: number }
  | { type: "container"; id: string; step: number; seconds: number }
  | { type: "layer"; id: string; cached: boolean; step: number; seconds: number }
  /** The image a `FROM` step resolved to (a base image or an earlier stage; never one of this build's layers). */
  | { type: "base"; id: string; step: number; seconds: number }
  | { type: "image"; id: string; seconds: number }
  | { type: "tagged"; tag: string; seconds: number }
  | { type: "status"; text: string; seconds: number }
  | { type: "error"; message: string; step: number; instruction: string | null; seconds: number };

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** Image references to tag, e.g. `["express-hello:1.0.0", "express-hello:latest"]` (at least one). */
  tags: string[];
  /** Called for every parsed event, in stream order. */
  onProgress?: (event: BuildEvent) => void;
  /** Build without the layer cache (`docker build --no-cache`). Default false. */
  noCache?: boolean;
  /** Labels set on the image (e.g. OCI `org.opencontainers.image.version`). */
  labels?: Record<string, string>;
  /** The Dockerfile's path inside the context (`docker build -f`); default `Dockerfile`. */
  dockerfile?: string;
  /** Build ARGs (`docker build --build-arg NAME=value`). */
  buildArgs?: Record<string, string>;
  /** Network of the build's RUN containers (`docker build --network`): `host` reaches a registry
   *  on the host's loopback; default the engine's (bridge). */
  network?: string;
}

/** Result of {@link buildImage}. */
export interface BuildResult {
  /** Image id, `sha256:<hex>`. */
  imageId: string;
  tags: string[];
  /** Wall-clock build time in seconds (context upload included). */
  seconds: number;
  /** Number of steps whose layer came from the cache. */
  cachedSteps: number;
  /** Total steps of the Dockerfile. */
  totalSteps: number;
}

/** A failed build: which step failed and what it printed. */
export class BuildError extends Error {
  constructor(
    message: string,
    /** 1-based index of the failing step (0 when the failure came before any step). */
    readonly step: number,
    /** The failing instruction, e.g. `RUN npm run build`, or null. */
    readonly instruction: string | null,
    /** Output lines printed by the failing step (last 200). */
    readonly output: string[],
  ) {
    super(message);
    this.name = "BuildError";
  }
}

const TAG_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

/** One JSON message of the Engine's build stream (`POST /build`); every field is optional. */
export interface BuildMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * Parses a JSON message stream into {@link BuildEvent}s. Stateful (tracks the current step);
 * feed it the messages of one build in order. Exported for renderers and tests.
 */
export function createBuildParser(startedAt = performance.now()): {
  parse(message: BuildMessage): BuildEvent[];
  readonly step: number;
  readonly instruction: string | null;
  readonly stepOutput: string[];
} {
  let step = 0;
  let instruction: string | null = null;
  let stepOutput: string[] = [];
  let pendingCached = false; // " ---> Using cache" seen; the layer id follows on the next line
  const secs = (): number => (performance.now() - startedAt) / 1000;
  return {
    get step() {
      return step;
    },
    get instruction() {
      return instruction;
    },
    get stepOutput() {
      return stepOutput;
    },
    parse(m) {
      const out: BuildEvent[] = [];
      if (typeof m.error === "string" || m.errorDetail) {
        const message = String(m.errorDetail?.message ?? m.error).trim();
        out.push({ type: "error", message, step, instruction, seconds: secs() });
        return out;
      }
      if (m.aux && typeof m.aux.ID === "string") {
        out.push({ type: "image", id: m.aux.ID, seconds: secs() });
        return out;
      }
      if (typeof m.status === "string") {
        out.push({ type: "status", text: [m.id, m.status, m.progress].filter(Boolean).join(" "), seconds: secs() });
        return out;
      }
      if (typeof m.stream !== "string") return out;
      for (const raw of m.stream.split("\n")) {
        const line = raw.replace(/\r$/, "");
        if (!line.trim()) continue;
        let r: RegExpMatchArray | null;
        if ((r = line.match(/^Step (\d+)\/(\d+) : (.*)$/))) {
          step = Number(r[1]);
          instruction = r[3];
          stepOutput = [];
          out.push({ type: "step", index: step, total: Number(r[2]), instruction, seconds: secs() });
        } else if ((r = line.match(/^ ---> Running in ([0-9a-f]+)/))) {
          out.push({ type: "container", id: r[1], step, seconds: secs() });
        } else if (/^ ---> Using cache/.test(line)) {
          pendingCached = true;
        } else if ((r = line.match(/^ ---> ([0-9a-f]{12,64})$/))) {
          if (/^FROM\s/i.test(instruction ?? "")) out.push({ type: "base", id: r[1], step, seconds: secs() });
          else out.push({ type: "layer", id: r[1], cached: pendingCached, step, seconds: secs() });
          pendingCached = false;
        } else if (/^Removing intermediate container /.test(line) || /^Successfully built /.test(line)) {
          // Bookkeeping lines; the image id arrives as `aux`.
        } else if ((r = line.match(/^Successfully tagged (.+)$/))) {
          out.push({ type: "tagged", tag: r[1], seconds: secs() });
        } else {
          stepOutput.push(line);
          if (stepOutput.length > 200) stepOutput.shift();
          out.push({ type: "output", text: line, step, seconds: secs() });
        }
      }
      return out;
    },
  };
}

/**
 * Builds an image from a build context tar stream (see `createBuildContext`) and tags it.
 * Never pulls (`pull: false`): base images must be present or reachable by the engine's default.
 * @param docker a dockerode client (e.g. `new Dockerode({ socketPath: "/var/run/docker.sock" })`)
 * @param context uncompressed tar stream with a `Dockerfile` at its root
 * @returns image id, tags, seconds, cache statistics
 * @throws Error naming `tags` when empty or malformed; {@link BuildError} with the failing step,
 *   its instruction and output when the build fails; the engine's error when the API call fails
 *   (daemon down: ECONNREFUSED/ENOENT on the socket).
 */
export async function buildImage(docker: Dockerode, context: Readable, opts: BuildImageOptions): Promise<BuildResult> {
  if (!Array.isArray(opts?.tags) || opts.tags.length === 0) throw new Error("buildImage: opts.tags must list at least one tag");
  for (const t of opts.tags) {
    if (typeof t !== "string" || !TAG_RE.test(t)) throw new Error(`buildImage: opts.tags: ${JSON.stringify(t)} is not a valid image reference`);
  }
  const startedAt = performance.now();
  const parser = createBuildParser(startedAt);
  let imageId: string | null = null;
  let error: (BuildEvent & { type: "error" }) | null = null;
  let cachedSteps = 0;
  let totalSteps = 0;
  const tagged: string[] = [];

  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
    t: opts.tags as unknown as string, // docker-modem repeats array params: t=a&t=b
    pull: false,
    rm: true,
    forcerm: true,
    nocache: opts.noCache ?? false,
    labels: opts.labels,
    dockerfile: opts.dockerfile ?? "Dockerfile",
    buildargs: opts.buildArgs ?? {},
    ...(opts.network ? { networkmode: opts.network } : {}),
    version: "1",
  });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (message: BuildMessage) => {
        for (const ev of parser.parse(message)) {
          if (ev.type === "image") imageId = ev.id;
          if (ev.type === "error") error = ev;
          if (ev.type === "step") totalSteps = ev.total;
          if (ev.type === "layer" && ev.cached) cachedSteps++;
          if (ev.type === "tagged") tagged.push(ev.tag);
          opts.onProgress?.(ev);
        }
      },
    );
  });
  const failed = error as (BuildEvent & { type: "error" }) | null;
  if (failed) {
    const where = failed.step ? ` at step ${failed.step}/${totalSteps} (${failed.instruction})` : "";
    const tail = parser.stepOutput.slice(-30).join("\n");
    throw new BuildError(`image build failed${where}: ${failed.message}${tail ? `\n--- output of the failing step ---\n${tail}` : ""}`, failed.step, failed.instruction, [...parser.stepOutput]);
  }
  if (!imageId) {
    // Older engines send no aux ID: resolve the first tag.
    imageId = (await docker.getImage(opts.tags[0]).inspect()).Id;
  }
  return { imageId: imageId!, tags: [...opts.tags], seconds: (performance.now() - startedAt) / 1000, cachedSteps, totalSteps };
}
