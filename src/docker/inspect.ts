/**
 * Static checks of a built image and helpers for reading a container: image metadata (as
 * container-structure-test's `metadataTest`), a filesystem probe run with the image's own `node`,
 * `docker top` parsing, and demultiplexing of container logs.
 */
import type Dockerode from "dockerode";

/** Result of one smoke-test check. */
export interface Check {
  /** Short stable name, e.g. `metadata`, `healthy`, `get /`, `sigterm`. */
  name: string;
  ok: boolean;
  /** Milliseconds the check took. */
  ms: number;
  /** One line saying what was seen (or why it failed). */
  detail: string;
  /** true for checks that report but cannot fail the smoke test (e.g. drain observation). */
  informational?: boolean;
}

/**
 * Checks image metadata: `Config.User` numeric and non-root (`1000` or `1000:1000`), `<port>/tcp`
 * exposed, a HEALTHCHECK other than NONE, exec-form `Cmd` (JSON array, not `/bin/sh -c`), and no
 * secret-looking `Env` names (`*SECRET*`, `*PASSWORD*`, `*TOKEN*`, `*_KEY`).
 * @returns problems found (empty = pass) and a summary line
 */
export function checkImageMetadata(info: Dockerode.ImageInspectInfo, port: number): { problems: string[]; summary: string } {
  const c = info.Config;
  const problems: string[] = [];
  const user = c.User ?? "";
  if (!/^\d+(:\d+)?$/.test(user)) problems.push(`USER is ${JSON.stringify(user)}, expected numeric uid[:gid]`);
  else if (Number(user.split(":")[0]) === 0) problems.push("USER is root (uid 0)");
  if (!c.ExposedPorts || !(`${port}/tcp` in c.ExposedPorts)) {
    problems.push(`port ${port}/tcp not exposed (exposed: ${Object.keys(c.ExposedPorts ?? {}).join(", ") || "none"})`);
  }
  const hc = (c as { Healthcheck?: { Test?: string[] } }).Healthcheck;
  if (!hc?.Test?.length || hc.Test[0] === "NONE") problems.push("no HEALTHCHECK");
  else if (hc.Test[0] === "CMD-SHELL") problems.push("HEALTHCHECK is shell form (needs /bin/sh); use exec form");
  const cmd = c.Cmd ?? [];
  if (!cmd.length && !(c.Entrypoint && c.Entrypoint.length)) problems.push("no CMD");
  else if (cmd[0] === "/bin/sh" && cmd[1] === "-c") problems.push("CMD is shell form (signals go to /bin/sh, not the runtime)");
  const secret = (c.Env ?? []).map((e) => e.split("=")[0]).filter((n) => /SECRET|PASSWORD|TOKEN|_KEY$/i.test(n));
  if (secret.length) problems.push(`secret-looking ENV baked into the image: ${secret.join(", ")}`);
  const summary = `user ${user || "(unset)"}, exposes ${Object.keys(c.ExposedPorts ?? {}).join(",") || "nothing"}, ` +
    `healthcheck ${hc?.Test?.[0] ?? "none"}, cmd ${cmd[0] === "/bin/sh" ? "shell" : "exec"}-form`;
  return { problems, summary };
}

/**
 * The filesystem probe, run as `node -e PROBE_SCRIPT` inside the container (the image has node,
 * maybe no shell). Prints JSON: `{ forbidden: string[], devDepsInstalled: string[], appWritable: boolean }`
 * for the working directory: `.env*`, `.git`, `.prodserver` at its top; devDependencies of its
 * package.json present in node_modules; whether the running user can write the app folder.
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

/**
 * Kills one runtime worker from inside the container (run as the image's USER, which owns the
 * workers): SIGKILL to the first process whose title starts with `prodserver: worker`. Prints its
 * in-container pid; exit 2 when there is none.
 */
export const KILL_WORKER_SCRIPT = `
const fs = require("fs");
const title = (p) => { try { return fs.readFileSync("/proc/" + p + "/cmdline", "utf8"); } catch { return ""; } };
const pids = fs.readdirSync("/proc").filter((p) => /^\\d+$/.test(p) && title(p).startsWith("prodserver: worker"));
if (!pids.length) { process.stdout.write("none"); process.exit(2); }
process.kill(Number(pids[0]), "SIGKILL");
process.stdout.write(pids[0]);
`;

/** Output of {@link PROBE_SCRIPT}. */
export interface ProbeResult { dir: string; forbidden: string[]; devDepsInstalled: string[]; appWritable: boolean }

/**
 * Runs a command in a running container (`docker exec`, no TTY) and collects its output.
 * @returns exit code and demultiplexed stdout/stderr
 * @throws the engine's error when the exec cannot be created (container not running)
 */
export async function execIn(container: Dockerode.Container, cmd: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const { stdout, stderr } = demux(Buffer.concat(chunks));
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout, stderr };
}

/**
 * Splits Docker's multiplexed stream format (8-byte frames: [stream, 0, 0, 0, size u32 BE]) into
 * stdout and stderr text. A buffer that is not multiplexed (TTY containers) is returned as stdout.
 */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i];
    const size = buf.readUInt32BE(i + 4);
    if (type > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0 || i + 8 + size > buf.length) {
      return { stdout: buf.toString("utf8"), stderr: "" };
    }
    (type === 2 ? err : out).push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/** One row of `docker top <container> -o pid,uid,args`. */
export interface ProcessRow { pid: number; uid: number; args: string }

/**
 * Lists a container's processes with their uid (`docker top` runs `ps -o pid,uid,args` on the host;
 * uids are host uids, equal to the container's without user-namespace remapping).
 */
export async function listProcesses(container: Dockerode.Container): Promise<ProcessRow[]> {
  const top = (await container.top({ ps_args: "-o pid,uid,args" })) as { Titles: string[]; Processes: string[][] };
  const iPid = top.Titles.indexOf("PID");
  const iUid = top.Titles.indexOf("UID");
  const iArgs = top.Titles.findIndex((t) => t === "COMMAND" || t === "ARGS" || t === "CMD");
  return top.Processes.map((p) => ({ pid: Number(p[iPid]), uid: Number(p[iUid]), args: p.slice(iArgs).join(" ") }));
}

/** Counts the runtime's processes by title (`prodserver: arbiter [NAME]`, `prodserver: worker [NAME]`). */
export function countRuntimeProcesses(rows: ProcessRow[]): { arbiters: number; workers: number } {
  return {
    arbiters: rows.filter((r) => r.args.startsWith("prodserver: arbiter")).length,
    workers: rows.filter((r) => r.args.startsWith("prodserver: worker")).length,
  };
}

/** Fetches a container's logs so far, demultiplexed. Never throws (returns what it could). */
export async function containerLogs(container: Dockerode.Container): Promise<{ stdout: string; stderr: string }> {
  try {
    const buf = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
  } catch (e) {
    return { stdout: "", stderr: `(logs unavailable: ${(e as Error).message})` };
  }
}
