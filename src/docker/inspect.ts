/**
 * Reading a running container through the Engine API: `docker exec` with collected output,
 * `docker top` parsing, runtime process counts by title, and demultiplexed logs.
 */
import type Dockerode from "dockerode";

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
export interface ProcessRow {
  pid: number;
  uid: number;
  args: string;
}

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
