/**
 * `prodserver build`: load the description, regenerate stale deploy files, assemble the build
 * context (the app's own Dockerfile; with `--offline` also the package caches), build
 * `<name>:<version>` and `<name>:latest` through the Docker Engine API with live progress, then
 * smoke-test the image and print the report.
 */
import fs from "node:fs";
import path from "node:path";
import Dockerode from "dockerode";
import { loadDescription } from "../description/index.js";
import { endOfLifeWarning } from "../description/node-versions.js";
import { renderProject, writeFiles } from "../generate/index.js";
import {
  buildProject,
  BuildError,
  createProgressRenderer,
  formatReport,
  imageTags,
  smokeOptionsFrom,
  smokeTest,
  type ProgressMode,
} from "../docker/index.js";
import { CliError } from "./output.js";
import { EXIT } from "./exit-codes.js";
import { reportWrites } from "./generate.js";

/** Options of {@link runBuild}. */
export interface BuildOptions {
  dir: string;
  offline: boolean;
  quiet: boolean;
  json: boolean;
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
  const { description, file } = await loadDescription(dir);
  if (!dependsOnProdserver(dir)) {
    throw new CliError(
      `${path.join(dir, "package.json")} does not list prodserver in "dependencies": the image runs prodserver from the app's ` +
        `installed dependencies; add it (\`${description.packageManager} add prodserver\`, or \`prodserver init\`) and commit the lockfile`,
      EXIT.buildFailed,
    );
  }
  const eol = endOfLifeWarning(Number(description.node));
  if (eol) process.stderr.write(`prodserver: warning: ${eol}\n`);

  const { root, files } = renderProject(dir, description, file);
  const writes = writeFiles(root, files, { force: false });
  const stale = writes.filter((w) => w.status !== "identical");
  if (mode === "human" && stale.length > 0) reportWrites(stale);
  const conflicts = writes.filter((w) => w.status === "conflict");
  if (conflicts.length > 0) {
    // The folder's own (edited) Dockerfile is what gets built; say so rather than fail.
    say(`building with your edited ${conflicts.map((c) => c.path).join(", ")}\n`);
  }

  const docker = new Dockerode();
  try {
    await docker.ping();
  } catch (e) {
    throw new CliError(`cannot reach the Docker Engine (${(e as Error).message}); is dockerd running and /var/run/docker.sock readable?`, EXIT.engineUnreachable);
  }

  const tags = imageTags(description);
  const progress = createProgressRenderer(mode, (t) => process.stdout.write(t));
  let result;
  try {
    result = await buildProject(docker, dir, description, {
      offline: opts.offline,
      descriptionFile: path.basename(file),
      tags,
      onProgress: progress.onProgress,
      noCache: opts.noCache,
      network: opts.network,
    });
  } catch (e) {
    if (e instanceof BuildError) {
      process.stderr.write(`${e.message}\n`);
      return EXIT.buildFailed;
    }
    throw e;
  }
  progress.done(result);
  if (!opts.smoke) return 0;

  say(`smoke test ${tags[0]}\n`);
  const report = await smokeTest(docker, tags[0], { ...smokeOptionsFrom(description), buildSeconds: result.seconds });
  if (mode === "json") process.stdout.write(`${JSON.stringify({ type: "smoke", ...report })}\n`);
  else process.stdout.write(formatReport(report));
  return report.ok ? EXIT.ok : EXIT.smokeFailed;
}
