/**
 * `prodserver build`: load the description, regenerate stale deploy files, assemble the build
 * context (with the runtime bundle), build `<name>:<version>` and `<name>:latest` through the
 * Docker Engine API with live progress, then smoke-test the image and print the report.
 */
import path from "node:path";
import Dockerode from "dockerode";
import { loadDescription } from "../description/index.js";
import { renderFiles, writeFiles } from "../generate/index.js";
import {
  buildImage,
  BuildError,
  createProgressRenderer,
  formatReport,
  imageTags,
  projectBuildContext,
  smokeOptionsFrom,
  smokeTest,
  type ProgressMode,
} from "../docker/index.js";
import { CliError } from "./output.js";
import { reportWrites } from "./generate.js";

/** Options of {@link runBuild}. */
export interface BuildOptions {
  dir: string;
  offline: boolean;
  quiet: boolean;
  json: boolean;
  smoke: boolean;
  noCache: boolean;
}

/**
 * Run a build; resolves to 0 when the image is built (and, unless --no-smoke, the smoke test passed),
 * 1 otherwise. The smoke report (and, on failure, the container's logs) is printed.
 * @throws CliError when generated files conflict with user edits, or the Docker Engine is unreachable.
 */
export async function runBuild(opts: BuildOptions): Promise<number> {
  const dir = path.resolve(opts.dir);
  const mode: ProgressMode = opts.json ? "json" : opts.quiet ? "quiet" : "human";
  const say = (text: string) => {
    if (mode === "human") process.stdout.write(text);
  };
  const { description } = await loadDescription(dir);

  const writes = writeFiles(dir, renderFiles(description), { force: false });
  const stale = writes.filter((w) => w.status !== "identical");
  if (mode === "human" && stale.length > 0) reportWrites(stale);
  const conflicts = writes.filter((w) => w.status === "conflict");
  if (conflicts.length > 0 && !opts.offline) {
    // The folder's own (edited) Dockerfile is what gets built; say so rather than fail.
    say(`building with your edited ${conflicts.map((c) => c.path).join(", ")}\n`);
  }

  const docker = new Dockerode();
  try {
    await docker.ping();
  } catch (e) {
    throw new CliError(`cannot reach the Docker Engine (${(e as Error).message}); is dockerd running and /var/run/docker.sock readable?`);
  }

  const ctx = await projectBuildContext(dir, description, { offline: opts.offline });
  if (ctx.npmCache) say(`offline: npm cache for ${path.basename(dir)} ready\n`);
  const tags = imageTags(description);
  const progress = createProgressRenderer(mode, (t) => process.stdout.write(t));
  let result;
  try {
    result = await buildImage(docker, ctx.context, { tags, onProgress: progress.onProgress, noCache: opts.noCache });
  } catch (e) {
    if (e instanceof BuildError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  progress.done(result);
  if (!opts.smoke) return 0;

  say(`smoke test ${tags[0]}\n`);
  const report = await smokeTest(docker, tags[0], { ...smokeOptionsFrom(description), buildSeconds: result.seconds });
  if (mode === "json") process.stdout.write(`${JSON.stringify({ type: "smoke", ...report })}\n`);
  else process.stdout.write(formatReport(report));
  return report.ok ? 0 : 1;
}
