/**
 * Judges for generated files: each reads a file back with the real parser of its format (the Docker
 * Engine, the docker CLI's compose loader, nginx, systemd) and returns what that parser understood,
 * so a test can compare it with what the description meant. Used by the fuzz test.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { parse } from "yaml";

/** Run a command; resolves with its status and output (never rejects). */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (c) => (stdout += c));
    p.stderr!.on("data", (c) => (stderr += c));
    p.on("error", (e) => resolve({ status: null, stdout, stderr: String(e) }));
    p.on("close", (status) => resolve({ status, stdout, stderr }));
    if (opts.input !== undefined) p.stdin!.end(opts.input);
  });
}

/** Run `fn` over `items` with at most `n` at a time; results in input order. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

// ------------------------------------------------------------------------------------------ Docker

/** Docker CLI to use: the one on PATH. `DOCKER_BUILDKIT=0`: the engine's classic builder prints
 *  every step it parsed ("Step i/N : ..."), which is what the judge reads. */
const DOCKER_ENV = { ...process.env, DOCKER_BUILDKIT: "0" };

/** A stand-in shell: prints its command (`sh -c CMD` → `FAKESH CMD`) and succeeds, so every RUN
 *  costs one container start and shows the command the shell would have run. */
const FAKE_SH = "#!/bin/dash\nprintf 'FAKESH %s\\n' \"$2\"\n";

/**
 * The base image the fuzz builds FROM instead of node:*: the local node:20-bookworm-slim with
 * /bin/sh replaced by {@link FAKE_SH} and an empty /app/node_modules (what the deps stage would
 * have installed). Tagged by a hash of its recipe, so it is built once and reused.
 * @returns the tag.
 */
export async function fuzzBaseImage(base = "node:20-bookworm-slim"): Promise<string> {
  const recipe = `FROM ${base}\nCOPY fakesh /tmp/fakesh\nRUN mkdir -p /app/node_modules && chmod 755 /tmp/fakesh && rm /bin/sh && cp /tmp/fakesh /bin/sh\n`;
  const tag = `prodserver-deploy-fuzzbase:${crypto
    .createHash("sha256")
    .update(recipe + FAKE_SH)
    .digest("hex")
    .slice(0, 12)}`;
  if (spawnSync("docker", ["image", "inspect", tag], { stdio: "ignore" }).status === 0) return tag;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fuzzbase-"));
  fs.writeFileSync(path.join(dir, "Dockerfile"), recipe);
  fs.writeFileSync(path.join(dir, "fakesh"), FAKE_SH);
  const r = await run("docker", ["build", "-q", "-t", tag, dir], { env: DOCKER_ENV });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`building ${tag}: ${r.stderr}`);
  return tag;
}

/** What the Docker Engine made of a Dockerfile. */
export interface DockerReading {
  /** Every instruction the engine parsed, as it prints them ("Step i/N : TEXT"), in order. */
  steps: string[];
  /** The command of each RUN as the engine parsed it (its layer's `ContainerConfig.Cmd`, `sh -c CMD`;
   *  cached steps too), in order. */
  runs: string[];
  /** The final image's config (Cmd, Healthcheck, User, ExposedPorts, ...), or null when the build failed. */
  config: Record<string, any> | null;
  /** Build output when the build failed. */
  error: string | null;
}

/**
 * Build `dockerfile` with the real engine (classic builder), every `FROM node:...` replaced by
 * `base`, in a context holding `files`; read back the parsed step list, the RUN commands and the
 * image config. The image is tagged `tag` (the caller removes it).
 */
export async function dockerRead(dockerfile: string, files: Record<string, string>, base: string, tag: string): Promise<DockerReading> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fuzzctx-"));
  try {
    for (const [p, content] of Object.entries({ ...files, ".dockerignore": "Dockerfile\n.dockerignore\n" })) {
      fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
      fs.writeFileSync(path.join(dir, p), content);
    }
    fs.writeFileSync(path.join(dir, "Dockerfile"), dockerfile.replace(/^FROM node:\S+/gm, `FROM ${base}`));
    const r = await run("docker", ["build", "--rm", "--force-rm", "-t", tag, dir], { env: DOCKER_ENV });
    // Line by line: a step's text may hold U+2028, where a JS `.`/`$` would stop.
    const out = r.stdout.split("\n");
    const steps = out.filter((l) => /^Step \d+\/\d+ : /.test(l)).map((l) => l.replace(/^Step \d+\/\d+ : /, ""));
    const runs: string[] = [];
    out.forEach((l, k) => {
      if (!/^Step \d+\/\d+ : RUN /.test(l)) return;
      const id = out.slice(k + 1).find((x) => /^ ---> [0-9a-f]{12}$/.test(x) || /^Step /.test(x));
      if (id?.startsWith(" ---> ")) runs.push(id.slice(6));
    });
    for (const [k, id] of runs.entries()) {
      const cmd = await run("docker", ["image", "inspect", "--format", "{{json .ContainerConfig.Cmd}}", id]);
      const argv = JSON.parse(cmd.stdout || "null") as string[] | null;
      runs[k] = argv && argv[0] === "/bin/sh" && argv[1] === "-c" ? argv.slice(2).join(" ") : JSON.stringify(argv);
    }
    if (r.status !== 0) return { steps, runs, config: null, error: r.stdout + r.stderr };
    const i = await run("docker", ["image", "inspect", "--format", "{{json .Config}}", tag]);
    return { steps, runs, config: JSON.parse(i.stdout), error: null };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The instructions a Dockerfile is written to have: one per non-empty, non-comment line, with
 *  `FROM node:...` as {@link dockerRead} builds it. */
export function dockerLines(dockerfile: string, base: string): string[] {
  return dockerfile
    .replace(/^FROM node:\S+/gm, `FROM ${base}`)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/**
 * Build `lines` (Dockerfile instructions, one per line) on top of `base` with BuildKit, which
 * records every instruction it parsed in the image history (`CMD ["a" "b"]`, Go-quoted); returns the
 * history entries the lines added, oldest first, or the build error. BuildKit applies CMD and
 * HEALTHCHECK to the image config without a container, so a batch of hundreds takes seconds.
 */
export async function dockerHistoryOf(lines: string[], base: string, tag: string): Promise<{ entries: string[] | null; error: string | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fuzzlines-"));
  try {
    fs.writeFileSync(path.join(dir, "Dockerfile"), `FROM ${base}\n${lines.join("\n")}\n`);
    const env = { ...process.env, DOCKER_BUILDKIT: "1" };
    // The engine's own client (Debian's docker.io) drives BuildKit without the buildx plugin.
    const r = await run(fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker", ["build", "--progress=plain", "-t", tag, dir], { env });
    if (r.status !== 0) return { entries: null, error: r.stderr + r.stdout };
    const [own, all] = await Promise.all([
      run("docker", ["history", "--no-trunc", "--format", "{{json .CreatedBy}}", base]),
      run("docker", ["history", "--no-trunc", "--format", "{{json .CreatedBy}}", tag]),
    ]);
    const entries = all.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as string);
    return { entries: entries.slice(0, entries.length - own.stdout.trim().split("\n").length).reverse(), error: null };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Build each of `lines` (RUN instructions) as the only instruction of its own stage on top of
 * `base`, with BuildKit (stages run in parallel, no cache), and return the command each stage's
 * shell received (the stand-in /bin/sh prints `FAKESH CMD`), in order; null for a stage that ran no
 * shell; or the build error (a line that swallowed the next `FROM` leaves a stage missing).
 */
export async function dockerRunsOf(lines: string[], base: string, tag: string): Promise<{ shells: Array<string | null> | null; error: string | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fuzzruns-"));
  try {
    const stages = lines.map((l, i) => `FROM ${base} AS r${i}\n${l}\n`).join("");
    const copies = lines.map((_, i) => `COPY --from=r${i} /etc/os-release /prodserver-fuzz/${i}\n`).join("");
    fs.writeFileSync(path.join(dir, "Dockerfile"), `${stages}FROM ${base}\n${copies}`);
    const env = { ...process.env, DOCKER_BUILDKIT: "1" };
    const r = await run(fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker", ["build", "--no-cache", "--progress=plain", "-t", tag, dir], { env });
    if (r.status !== 0) return { shells: null, error: r.stderr + r.stdout };
    // Plain progress: "#7 [r3 2/2] RUN ..." names the vertex, "#7 0.412 FAKESH ..." is its output
    // ([\s\S]: a command may hold U+2028, where a JS `.` stops).
    const out = (r.stderr + r.stdout).split("\n");
    const stageOf = new Map<string, number>();
    for (const l of out) {
      const m = /^#(\d+) \[r(\d+) \d+\/\d+\] RUN /.exec(l);
      if (m) stageOf.set(m[1], Number(m[2]));
    }
    const shells: Array<string | null> = lines.map(() => null);
    for (const l of out) {
      const m = /^#(\d+) [\d.]+ FAKESH ([\s\S]*)$/.exec(l);
      if (m && stageOf.has(m[1])) shells[stageOf.get(m[1])!] = m[2];
    }
    return { shells, error: null };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The strings of a Go `%q`-formatted string slice (`["a" "b\"c"]`), as BuildKit writes CMD and
 *  HEALTHCHECK into the history; null when `s` does not start with one. */
export function goQuotedList(s: string): string[] | null {
  if (!s.startsWith("[")) return null;
  const out: string[] = [];
  let i = 1;
  const esc: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'" };
  while (i < s.length && s[i] !== "]") {
    if (s[i] === " ") {
      i++;
      continue;
    }
    if (s[i] !== '"') return null;
    let w = "";
    for (i++; i < s.length && s[i] !== '"'; i++) {
      if (s[i] !== "\\") {
        w += s[i];
        continue;
      }
      const c = s[++i];
      if (c in esc) w += esc[c];
      else if (c === "x") (w += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16))), (i += 2);
      else if (c === "u") (w += String.fromCodePoint(parseInt(s.slice(i + 1, i + 5), 16))), (i += 4);
      else if (c === "U") (w += String.fromCodePoint(parseInt(s.slice(i + 1, i + 9), 16))), (i += 8);
      else return null;
    }
    out.push(w);
    i++;
  }
  return s[i] === "]" ? out : null;
}

/** Remove images by tag (ignores ones already gone). */
export async function removeImages(tags: string[]): Promise<void> {
  for (let i = 0; i < tags.length; i += 50) await run("docker", ["image", "rm", "--force", ...tags.slice(i, i + 50)]);
}

// ----------------------------------------------------------------------------------------- Compose

/** Whether the docker CLI has `stack config` (the compose loader, with interpolation, without a swarm). */
export const hasStackConfig = spawnSync("docker", ["stack", "config", "--help"], { stdio: "ignore" }).status === 0;

/** `docker stack config -c FILE`: the compose file after the CLI's loader (schema, interpolation),
 *  parsed; or the error text. */
export async function composeRead(text: string): Promise<{ config: Record<string, any> | null; error: string | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-compose-"));
  try {
    fs.writeFileSync(path.join(dir, "compose.yaml"), text);
    const r = await run("docker", ["stack", "config", "-c", path.join(dir, "compose.yaml")], { env: { ...process.env, HOME: "/nonexistent-home" } });
    return r.status === 0 ? { config: parse(r.stdout), error: null } : { config: null, error: r.stderr || r.stdout };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------- nginx

/** One nginx directive: its name, arguments (unquoted as nginx reads them) and block nesting. */
export interface NginxDirective {
  depth: number;
  name: string;
  args: string[];
}

/**
 * Split nginx configuration text into directives the way nginx's ngx_conf_read_token does: blanks
 * separate words, `;` ends a directive, `{`/`}` open/close a block, `#` at a word start comments out
 * the rest of the line, `"..."`/`'...'` quote a word; a backslash escapes `"`, `'`, `\\` and makes
 * `\t`, `\r`, `\n` the control characters (any other backslash stays).
 * @throws Error on an unterminated quote or unbalanced braces.
 */
export function nginxDirectives(text: string): NginxDirective[] {
  // ngx_conf_read_token keeps a backslash before any other character.
  const unescapeChar = (c: string) => ({ '"': '"', "'": "'", "\\": "\\", t: "\t", r: "\r", n: "\n" })[c] ?? `\\${c}`;
  const out: NginxDirective[] = [];
  let depth = 0;
  let words: string[] = [];
  let i = 0;
  const end = () => {
    if (words.length) out.push({ depth, name: words[0], args: words.slice(1) });
    words = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (/[ \t\r\n]/.test(c)) i++;
    else if (c === "#") while (i < text.length && text[i] !== "\n") i++;
    else if (c === ";") end(), i++;
    else if (c === "{") end(), depth++, i++;
    else if (c === "}") {
      if (words.length || --depth < 0) throw new Error(`unexpected } at ${i}`);
      i++;
    } else if (c === '"' || c === "'") {
      let w = "";
      for (i++; i < text.length && text[i] !== c; i++) w += text[i] === "\\" && i + 1 < text.length ? unescapeChar(text[++i]) : text[i];
      if (i >= text.length) throw new Error("unterminated quote");
      words.push(w);
      i++;
    } else {
      let w = "";
      for (; i < text.length && !/[ \t\r\n;{]/.test(text[i]); i++) w += text[i] === "\\" && i + 1 < text.length ? unescapeChar(text[++i]) : text[i];
      words.push(w);
    }
  }
  if (words.length || depth !== 0) throw new Error("unterminated directive or block");
  return out;
}

/** `nginx -t` (nginx on this machine) over `confs` included side by side in http{}, with the temp
 *  paths in `dir`; the caller makes names and ports distinct. */
export function nginxCheck(confs: string[], dir: string): { status: number | null; output: string } {
  fs.mkdirSync(dir, { recursive: true });
  const includes = confs.map((c, i) => {
    const f = path.join(dir, `${i}.conf`);
    fs.writeFileSync(f, c);
    return `  include ${f};`;
  });
  fs.writeFileSync(
    path.join(dir, "nginx.conf"),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 65536; }\nhttp {\n  access_log off;\n  server_names_hash_bucket_size 128;\n  server_names_hash_max_size 65536;\n` +
      `  variables_hash_max_size 16384;\n  variables_hash_bucket_size 128;\n  map_hash_bucket_size 128;\n` +
      `  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;\n` +
      `${includes.join("\n")}\n}\n`,
  );
  const r = spawnSync("/usr/sbin/nginx", ["-t", "-q", "-c", path.join(dir, "nginx.conf"), "-p", dir + "/"], { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

// ----------------------------------------------------------------------------------------- systemd

/** What systemd's own parser read from one unit (from `systemd-analyze verify`'s debug dump). */
export interface SystemdUnitReading {
  /** argv per command setting, `$$` → `$` (systemd's literal dollar); `$MAINPID` stays a variable. */
  exec: Record<string, string[][]>;
  /** Plain settings from the dump (`WorkingDirectory`, `User`, `Group`, `ReadWritePaths`, ...). */
  settings: Record<string, string>;
}

/** Split a dumped command line (systemd quotes words with `"` and escapes with `\`). */
export function splitCommandLine(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") {
      cur += s[++i];
      has = true;
    } else if (c === '"') {
      quoted = !quoted;
      has = true;
    } else if (c === " " && !quoted) {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out.map((a) => a.replace(/\$\$/g, "$"));
}

/**
 * `systemd-analyze verify` over unit files: `output` is what it logged at notice level (empty for a
 * clean set), `units` what systemd read, by unit name.
 */
export function systemdRead(files: string[]): { status: number | null; output: string; units: Map<string, SystemdUnitReading> } {
  const env = (level: string) => ({ ...process.env, SYSTEMD_LOG_LEVEL: level });
  // --recursive-errors=no: the units named, not the host's units they pull in (network.target): 10× faster.
  const args = ["verify", "--man=no", "--generators=no", "--recursive-errors=no", ...files];
  const v = spawnSync("systemd-analyze", args, { encoding: "utf8", env: env("notice") });
  const dump = spawnSync("systemd-analyze", args, { encoding: "utf8", maxBuffer: 512 * 1024 * 1024, env: env("debug") }).stdout;
  const units = new Map<string, SystemdUnitReading>();
  let unit: SystemdUnitReading | null = null;
  let exec: string | null = null;
  // Line by line: a value may hold U+2028, where a JS `.`/`$` would stop.
  for (const line of dump.split("\n")) {
    const head = /^\t-> Unit ([^:]+):$/.exec(line);
    if (head) {
      unit = { exec: {}, settings: {} };
      units.set(head[1], unit);
      exec = null;
    } else if (!unit) continue;
    else if (line.startsWith("\t\t-> Exec") && line.endsWith(":")) exec = line.slice(5, -1);
    else if (exec && line.startsWith("\t\t\tCommand Line: ")) (unit.exec[exec] ??= []).push(splitCommandLine(line.slice("\t\t\tCommand Line: ".length)));
    else if (!line.startsWith("\t\t\t")) {
      exec = null;
      const m = /^\t\t([A-Za-z]+): /.exec(line);
      if (m) unit.settings[m[1]] ??= line.slice(m[0].length);
    }
  }
  return { status: v.status, output: `${v.stdout}${v.stderr}`.trim(), units };
}
