/**
 * `prodserver build`: load the description, regenerate stale deploy files, assemble the build
 * context (the app's own Dockerfile; with `--offline` also the package caches), build
 * `<name>:<version>` and `<name>:latest` through the Docker Engine API with live progress, then
 * smoke-test the image and print the report.
 * Output modes (./output.ts): human (progress, report), quiet (one line), json (JSON Lines:
 * build events, `done`, `smoke`, and the `result` record runCommand adds).
 */
import fs from "node:fs";
import path from "node:path";
import Dockerode from "dockerode";
import { loadDescription, type Description } from "../description/index.js";
import { endOfLifeWarning } from "../description/node-versions.js";
import { renderProject, writeFiles } from "../generate/index.js";
import {
  BuildError,
  createProgressRenderer,
  finalLine,
  formatReport,
  imageTags,
  projectBuildContext,
  buildImage,
  registryErrorCode,
  registryHint,
  resultLine,
  smokeOptionsFrom,
  smokeTest,
  type BuildEvent,
  type BuildResult,
  type ProjectContext,
  type SmokeReport,
} from "../docker/index.js";
import { EXIT } from "./exit-codes.js";
import { CliError, Output } from "./output.js";
import { reportWrites } from "./generate.js";

/** Options of {@link runBuild}. */
export interface BuildOptions {
  dir: string;
  offline: boolean;
  smoke: boolean;
  noCache: boolean;
  /** Network of the build's RUN steps (`docker build --network`), e.g. `host` for a registry on loopback. */
  network?: string;
}

/** True when the app's package.json lists prodserver in `dependencies` (what the image runs). */
function dependsOnProdserver(dir: string): boolean {
  try {
    return typeof JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies?.prodserver === "string";
  } catch {
    return false;
  }
}

/**
 * Run a build; resolves to 0 when the image is built and (unless `smoke` is false) its smoke test
 * passed, EXIT.smokeFailed when the smoke test failed. The report (with the container's logs on
 * failure) is printed in `out`'s mode.
 * @throws CliError with EXIT.engineUnreachable (no Docker Engine) or EXIT.buildFailed (prodserver
 *   not in the app's dependencies, the build context could not be assembled, or a step failed:
 *   the step, its output and, for a registry that could not be reached, a hint);
 *   DescriptionFileError/DescriptionError from loading.
 */
export async function runBuild(opts: BuildOptions, out: Output = new Output("human")): Promise<number> {
  const dir = path.resolve(opts.dir);
  const { description, file } = await loadDescription(dir);
  if (!dependsOnProdserver(dir)) {
    throw new CliError(`${path.join(dir, "package.json")} does not list prodserver in "dependencies": the image runs prodserver from the app's installed dependencies`, EXIT.buildFailed, {
      hint: `add it (\`${description.packageManager} add prodserver\`, or \`prodserver init\`) and commit the lockfile`,
    });
  }
  const eol = endOfLifeWarning(Number(description.node));
  if (eol) out.warn(`prodserver: warning: ${eol}\n`);

  const { root, files } = renderProject(dir, description, file);
  const writes = writeFiles(root, files, { force: false });
  reportWrites(
    writes.filter((w) => w.status !== "identical"),
    out,
  );
  const conflicts = writes.filter((w) => w.status === "conflict");
  if (conflicts.length > 0) {
    // The folder's own (edited) Dockerfile is what gets built; say so rather than fail.
    out.say(`building with your edited ${conflicts.map((c) => c.path).join(", ")}\n`);
  }

  const docker = await engine();
  const ctx = await buildContext(dir, description, opts.offline, path.basename(file));
  if (ctx.offline) out.say(`offline: package caches for ${path.basename(dir)} ready\n`);
  const tags = imageTags(description);
  const progress = createProgressRenderer(out.mode, out.progressSink());
  // In JSON the failure is one `error` record (runCommand's, with the step's output and a hint),
  // not also the build stream's error event.
  const onProgress = (ev: BuildEvent) => (out.json && ev.type === "error" ? undefined : progress.onProgress(ev));
  let result: BuildResult;
  try {
    result = await buildImage(docker, ctx.context, { tags, onProgress, noCache: opts.noCache, network: opts.network, dockerfile: ctx.dockerfilePath, buildArgs: ctx.buildArgs });
  } catch (e) {
    throw e instanceof BuildError ? buildFailure(e, opts.offline) : e;
  } finally {
    progress.close();
  }
  progress.done(result);
  if (!opts.smoke) {
    if (out.mode === "quiet") out.line(finalLine(result));
    return EXIT.ok;
  }

  out.say(`smoke test ${tags[0]}\n`);
  const report = await smokeTest(docker, tags[0], { ...smokeOptionsFrom(description), buildSeconds: result.seconds });
  out.event("smoke", { ...report });
  out.say(formatReport(report, (kind, text) => out.style(kind === "pass" ? "green" : kind === "fail" ? "red" : "dim", text)));
  if (out.mode === "quiet") out.line(quietLine(result, report));
  return report.ok ? EXIT.ok : EXIT.smokeFailed;
}

/** `--quiet`'s one line after a smoke test: the build's final line and the smoke result, naming the first failed check. */
function quietLine(result: BuildResult, report: SmokeReport): string {
  const failed = report.checks.find((c) => !c.ok && !c.informational);
  return `${finalLine(result).trimEnd()}; smoke test ${resultLine(report)}${failed ? ` (${failed.name}: ${failed.detail})` : ""}\n`;
}

/** A Docker Engine client, pinged. @throws CliError EXIT.engineUnreachable */
async function engine(): Promise<Dockerode> {
  const docker = new Dockerode();
  try {
    await docker.ping();
  } catch (e) {
    throw new CliError(`cannot reach the Docker Engine (${(e as Error).message})`, EXIT.engineUnreachable, {
      hint: "is dockerd running, and is /var/run/docker.sock (or DOCKER_HOST) readable by this user?",
    });
  }
  return docker;
}

/**
 * The build context. A plain `Error` from assembling it (no lockfile, a package manager failing to
 * fill the offline caches) is the user's to fix: EXIT.buildFailed, no stack. Typed errors keep
 * their own mapping (an invalid description value: EXIT.invalidDescription; a TypeError: a bug,
 * printed with its stack).
 */
async function buildContext(dir: string, d: Description, offline: boolean, descriptionFile: string): Promise<ProjectContext> {
  try {
    return await projectBuildContext(dir, d, { offline, descriptionFile });
  } catch (e) {
    if (e instanceof Error && e.constructor === Error) throw new CliError(`cannot prepare the build context: ${e.message}`, EXIT.buildFailed);
    throw e;
  }
}

/** A failed step as a CliError: its message and output, and a hint when a package manager could not reach the registry. */
function buildFailure(e: BuildError, offline: boolean): CliError {
  const code = registryErrorCode(e.instruction, e.output);
  return new CliError(e.message, EXIT.buildFailed, {
    hint: code ? registryHint(code, offline) : undefined,
    details: { step: e.step, instruction: e.instruction, output: e.output, ...(code ? { errorCode: code } : {}) },
  });
}
