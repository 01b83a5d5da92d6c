// Fuzz every string field of the project description (enumerated from its JSON Schema, so a new
// field or runtime setting is fuzzed too) with hostile values, each placed raw and after a valid
// value of the field. Every case must end in exactly one of:
//  - error: a DescriptionError or UnsafeValueError that names the field;
//  - safe: files the real parsers read back as meant —
//      Dockerfile: the Docker Engine builds it (classic builder, base image swapped for a local
//        stand-in whose /bin/sh only prints its command): the step list it parsed is the file's
//        instruction lines, each RUN's shell got exactly the description's command, and the image's
//        Cmd / Healthcheck / User / ExposedPorts are the derived ones;
//      compose.yaml: `docker stack config` (the CLI's compose loader, with interpolation) reads the
//        image, health check and commands back unchanged;
//      nginx: `nginx -t` accepts every conf with no message, the directive structure equals the
//        same description's with a benign value (nothing added), server_name lists the names;
//      systemd: `systemd-analyze verify` logs nothing, and its unit dump reads ExecStart /
//        ExecReload argv, WorkingDirectory, User, Group and ReadWritePaths back;
//      k8s: YAML 1.1 = 1.2, OpenAPI-valid, and container commands read back through the kubelet's
//        `$(VAR)` expansion unchanged.
//  - anything else is unsafe. Target: 0 unsafe. The counts are printed.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DescriptionError, validateDescription, descriptionJsonSchema, type Description } from "../../src/description/index.js";
import { renderFiles, derive, UnsafeValueError, type RenderedFile } from "../../src/generate/index.js";
import { dockerSkip } from "../support/docker.js";
import { selfSigned } from "../support/nginx.js";
import { k8sDocs, k8sProblems, kubeletExpand } from "../support/k8s.js";
import {
  composeRead,
  dockerHistoryOf,
  dockerLines,
  dockerRunsOf,
  dockerRead,
  fuzzBaseImage,
  goQuotedList,
  hasStackConfig,
  nginxCheck,
  nginxDirectives,
  pool,
  removeImages,
  systemdRead,
  type DockerReading,
} from "../support/judges.js";

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fuzz-"));
const images: string[] = [];
after(async () => {
  await removeImages(images);
  if (!process.env.FUZZ_KEEP) fs.rmSync(DIR, { recursive: true, force: true });
});

/** Hostile values: line continuations and comments (Docker, systemd), interpolation (Compose,
 *  k8s, systemd), Unicode line separators (YAML), systemd specifiers, nginx syntax, quotes, control
 *  characters, a lone surrogate, heredoc and exec-form starts, empty and very long strings. */
const HOSTILE = [
  "\\",
  "a\\",
  "a\\ ",
  "a \\ ",
  " # \\",
  "a # \\ ",
  "$",
  "${HOME}",
  "$$",
  "$(PORT)",
  "$5",
  "a$b",
  "\u0085",
  "a\u0085b",
  "a\u2028b",
  "a\u2029b",
  "%",
  "%n",
  "%h",
  "%%",
  ";",
  "a;b",
  "{",
  "}",
  "a{b}",
  'a"b',
  "a'b",
  "a\0b",
  "a\nb",
  "a\r\nb",
  "a\tb",
  "a b",
  "-x",
  "#x",
  '["x"]',
  "<<EOF",
  "ä€",
  "\uD800",
  "",
  "x".repeat(5000),
];

/** A valid description that sets every optional object, so each string field has a valid value to
 *  extend (its seed) and its parent objects exist. Paths the tools read live under DIR. */
const FULL = {
  name: "fz",
  version: "1.0.0",
  node: "20",
  packageManager: "npm",
  app: "dist/app.js#app",
  build: { command: "npm run build", output: "dist" },
  processes: {
    web: {
      workers: "auto",
      bind: "unix:/run/fz/app.sock",
      accesslog: "/var/log/fz/access.log",
      errorlog: "/var/log/fz/error.log",
      access_log_format: "%(h)s",
      proc_name: "fz",
      pidfile: "/run/fz/fz.pid",
      chdir: "/srv/fz",
      user: "www-data",
      group: "www-data",
      raw_env: "A=b",
      forwarded_allow_ips: "127.0.0.1",
      metrics_bind: "127.0.0.1:9100",
      certfile: "/etc/fz/cert.pem",
      keyfile: "/etc/fz/key.pem",
      log_format: "text",
      loglevel: "info",
    },
    worker: { command: "node jobs.js" },
  },
  health: { path: "/readyz" },
  workspace: { path: "apps/web", package: "web" },
  deploy: {
    user: "node",
    nginx: {
      serverName: "example.com",
      clientMaxBodySize: "16m",
      upstreams: ["127.0.0.1:3001"],
      balance: "round_robin",
      static: [{ location: "/static/", root: "/srv/fz/public" }],
      rateLimit: { rate: "10r/s" },
      tls: { certificate: `${DIR}/tls/cert.pem`, certificateKey: `${DIR}/tls/key.pem` },
    },
    systemd: { user: "www-data", workingDirectory: `${DIR}/wd`, nodePath: `${DIR}/bin/node` },
  },
};

/** Every string field of the description input, from its JSON Schema: dotted paths, `[]` for an
 *  array item, `worker` for a process type other than web. */
function stringFields(): string[] {
  const out = new Set<string>();
  const walk = (n: any, p: string) => {
    if (!n || typeof n !== "object") return;
    for (const alt of n.anyOf ?? []) walk(alt, p);
    const types = Array.isArray(n.type) ? n.type : [n.type];
    if (types.includes("string") && p !== "$schema") out.add(p);
    for (const [k, v] of Object.entries(n.properties ?? {})) walk(v, p ? `${p}.${k}` : k);
    if (p === "processes" && typeof n.additionalProperties === "object") walk(n.additionalProperties, "processes.worker");
    if (n.items) walk(n.items, `${p}[]`);
  };
  walk(descriptionJsonSchema(), "");
  return [...out].sort();
}

const keysOf = (field: string) => field.replace(/\[\]/g, ".0").split(".");

function get(obj: any, field: string): unknown {
  return keysOf(field).reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

/** A minimal description plus FULL's parent objects of `field`, with `field` set to `value`. */
function caseFor(field: string, value: string): Record<string, any> {
  const raw: Record<string, any> = { name: "fz", app: "dist/app.js#app", deploy: { systemd: { workingDirectory: `${DIR}/wd`, nodePath: `${DIR}/bin/node` } } };
  const keys = keysOf(field);
  let cur = raw;
  let full: any = FULL;
  keys.slice(0, -1).forEach((k, n) => {
    full = full?.[k];
    if (cur[k] === undefined || typeof cur[k] !== "object") cur[k] = typeof full === "object" ? structuredClone(full) : keys[n + 1] === "0" ? [] : {};
    cur = cur[k];
  });
  cur[keys.at(-1)!] = value;
  return raw;
}

/** The fuzz's place for this case's name, ports: unique in render A (nginx/systemd batches read
 *  many cases at once), fixed in render B (identical Dockerfiles and compose files are judged once). */
function variant(raw: Record<string, any>, field: string, i: number | null): Record<string, any> {
  const r = structuredClone(raw);
  const set = (f: string, v: unknown) => {
    if (field === f || field.startsWith(`${f}.`)) return;
    const keys = f.split(".");
    let cur = r;
    for (const k of keys.slice(0, -1)) cur = cur[k] ??= {};
    cur[keys.at(-1)!] = v;
  };
  set("name", i === null ? "fz" : `fz${i}`);
  set("port", i === null ? 3000 : 20000 + i);
  set("deploy.nginx.listen", i === null ? 80 : 30000 + i);
  if (r.deploy?.nginx?.tls) r.deploy.nginx.tls.listen = i === null ? 443 : 40000 + i;
  return r;
}

const names = (field: string, p: string) => {
  const f = field.replace(/\[\]/g, "");
  const q = p.replace(/\[\d+\]|\.\d+(?=\.|$)/g, "");
  return q === f || q.startsWith(`${f}.`);
};

interface Case {
  i: number;
  field: string;
  label: string;
  raw: Record<string, any>;
  /** Render B: fixed name and ports, so identical files of different cases are judged once. */
  d: Description;
  files: RenderedFile[];
  /** deploy/k8s, or null when the name is refused as a Kubernetes name (naming the field). */
  k8s: RenderedFile[] | null;
}

/** Render A of a case: its own name and ports, so many cases' units and confs load side by side. */
function renderA(c: Case): { d: Description; files: RenderedFile[] } {
  const d = validateDescription(variant(c.raw, c.field, c.i));
  return { d, files: renderFiles(d) };
}

/** Render A of the case's field at its seed (benign) value, for structure comparisons. */
function renderBenign(c: Case): RenderedFile[] {
  const seed = get(FULL, c.field);
  return typeof seed === "string" ? renderFiles(validateDescription(variant(caseFor(c.field, seed), c.field, c.i))) : renderA(c).files;
}

const file = (files: RenderedFile[], suffix: string) => files.find((f) => f.path.endsWith(suffix))?.content;
/** A systemd unit's path (under `deploy/systemd/`, itself under the app folder in a workspace). */
const isUnit = (p: string) => /(^|\/)deploy\/systemd\//.test(p);

/** Cases grouped by `key` (identical files are judged once, for every case that produced them). */
function distinct(cases: Case[], key: (c: Case) => string): Case[][] {
  const m = new Map<string, Case[]>();
  for (const c of cases) {
    const k = key(c);
    m.set(k, [...(m.get(k) ?? []), c]);
  }
  return [...m.values()];
}

test("fuzz: every string field × hostile values is an error naming the field or a file the real parsers read back as meant", { skip: dockerSkip }, async () => {
  const start = performance.now();
  validateDescription(FULL); // every seed is valid
  const fields = stringFields();
  assert.ok(fields.length >= 40 && fields.includes("build.command") && fields.includes("processes.worker.command[]"), fields.join(" "));
  const counts = { cases: 0, error: 0, safe: 0, unsafe: 0 };
  const unsafe: string[] = [];
  const cases: Case[] = [];
  let i = 0;
  for (const field of fields) {
    const seed = get(FULL, field);
    const placements = typeof seed === "string" ? [(v: string) => v, (v: string) => seed + v] : [(v: string) => v];
    for (const v of HOSTILE) {
      for (const place of placements) {
        i++;
        counts.cases++;
        const raw = caseFor(field, place(v));
        const label = `#${i} ${field} = ${JSON.stringify(place(v)).slice(0, 50)}`;
        try {
          const d = validateDescription(variant(raw, field, null));
          const files = renderFiles(d);
          let k8s: RenderedFile[] | null = null;
          try {
            k8s = renderFiles(d, { targets: ["k8s"] });
          } catch (e) {
            // A name fine for images but not a Kubernetes name is refused, naming the field; the rest is judged.
            if (!(e instanceof UnsafeValueError && names(field, e.field))) throw e;
          }
          cases.push({ i, field, label, raw, d, files, k8s });
        } catch (e) {
          const named = (e instanceof DescriptionError && e.issues.some((x) => names(field, x.path))) || (e instanceof UnsafeValueError && names(field, e.field));
          if (named) counts.error++;
          else {
            counts.unsafe++;
            unsafe.push(`${label}: ${e instanceof Error ? e.message.split("\n").slice(0, 3).join(" ") : e}`);
          }
        }
      }
    }
  }
  const bad = new Map<number, string[]>();
  const fail = (group: Case[], why: string) => {
    for (const c of group) bad.set(c.i, [...(bad.get(c.i) ?? []), why]);
  };
  console.log(`# fuzz: ${cases.length} cases rendered in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const t0 = performance.now();
  const lap = (what: string, groups: Case[][]) => console.log(`# fuzz: ${what}: ${groups.length} distinct, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const k8s = distinct(
    cases.filter((c) => c.k8s),
    (c) => c.k8s![0].content,
  );
  judgeK8s(k8s, fail);
  lap("k8s manifests", k8s);
  const nginx = distinct(cases, (c) => file(c.files, ".conf")!);
  judgeNginx(nginx, fail);
  lap("nginx confs", nginx);
  const systemd = distinct(cases, (c) =>
    c.files
      .filter((f) => isUnit(f.path))
      .map((f) => f.content)
      .join("\0"),
  );
  judgeSystemd(systemd, fail);
  lap("systemd unit sets", systemd);
  const compose = distinct(cases, (c) => file(c.files, "compose.yaml")!);
  await judgeCompose(compose, fail);
  lap("compose files", compose);
  const docker = await judgeDocker(cases, fail);
  console.log(
    `# fuzz: Dockerfiles: ${docker.skeletons} distinct skeletons built whole, ${docker.lines} distinct comment/RUN/CMD/HEALTHCHECK lines in batches, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  for (const c of cases) {
    if (bad.has(c.i)) {
      counts.unsafe++;
      unsafe.push(`${c.label}: ${bad.get(c.i)!.join("; ").slice(0, 400)}`);
    } else counts.safe++;
  }
  console.log(
    `# fuzz: ${fields.length} string fields × ${HOSTILE.length} hostile values, raw and after a valid value = ${counts.cases} cases: ` +
      `${counts.error} errors naming the field, ${counts.safe} safe, ${counts.unsafe} unsafe`,
  );
  assert.equal(counts.error + counts.safe + counts.unsafe, counts.cases);
  assert.deepEqual(unsafe, []);
  assert.ok(counts.safe > 300 && counts.error > 1000, JSON.stringify(counts));
});

type Fail = (group: Case[], why: string) => void;

/** Kubernetes: parse, validate, read container commands back through the kubelet's expansion. */
function judgeK8s(groups: Case[][], fail: Fail): void {
  for (const group of groups) {
    const c = group[0];
    try {
      const docs = k8sDocs(c.k8s![0].content);
      for (const doc of docs) for (const p of k8sProblems(doc)) fail(group, `k8s ${doc.kind}: ${p}`);
      const x = derive(c.d);
      for (const o of x.others) {
        const ctr = docs.find((d) => d.kind === "Deployment" && d.metadata.name === o.unit)?.spec.template.spec.containers[0];
        const env = Object.fromEntries((ctr?.env ?? []).map((e: any) => [e.name, e.value]));
        const read = (ctr?.command ?? []).map((s: string) => kubeletExpand(s, env));
        if (JSON.stringify(read) !== JSON.stringify(o.argv.map((s) => String(s.value)))) fail(group, `k8s ${o.unit} command reads ${JSON.stringify(read)}`);
      }
      const web = docs.find((d) => d.kind === "Deployment" && d.metadata.name === c.d.name);
      if (web?.spec.template.spec.containers[0].image !== x.image) fail(group, "k8s image");
    } catch (e) {
      fail(group, `k8s: ${e}`);
    }
  }
}

/** nginx: one representative per distinct conf, all under `nginx -t` at once (no message); the
 *  directive structure equals the benign rendering's; server_name lists the description's names. */
function judgeNginx(groups: Case[][], fail: Fail): void {
  const pair = selfSigned(path.join(DIR, "tls-source"));
  const [cert, key] = [fs.readFileSync(pair.certificate), fs.readFileSync(pair.certificateKey)];
  const confs: string[] = [];
  for (const group of groups) {
    const a = renderA(group[0]);
    const tls = a.d.deploy.nginx.tls;
    for (const [p, content] of tls
      ? ([
          [tls.certificate, cert],
          [tls.certificateKey, key],
        ] as const)
      : []) {
      if (p.startsWith(`${DIR}/`) && !fs.existsSync(p)) fs.mkdirSync(path.dirname(p), { recursive: true }), fs.writeFileSync(p, content);
    }
    const conf = file(a.files, ".conf")!;
    confs.push(conf);
    try {
      const shape = (t: string) =>
        nginxDirectives(t)
          .map((d) => `${d.depth}:${d.name}`)
          .join(" ");
      if (shape(conf) !== shape(file(renderBenign(group[0]), ".conf")!)) fail(group, "nginx: directives differ from the benign rendering");
      const serverName = nginxDirectives(conf).find((d) => d.name === "server_name")!.args;
      if (serverName.join(" ") !== a.d.deploy.nginx.serverName) fail(group, `nginx server_name reads ${JSON.stringify(serverName)}`);
    } catch (e) {
      fail(group, `nginx: ${e}`);
    }
  }
  const r = nginxCheck(confs, path.join(DIR, "nginx"));
  if (r.status !== 0 || r.output !== "") {
    const m = /nginx\/(\d+)\.conf/.exec(r.output); // blame the include the message names
    if (m) fail(groups[Number(m[1])], `nginx -t: ${r.output}`);
    else assert.fail(`nginx -t: ${r.output}`);
  }
}

/** systemd: one representative per distinct unit set, all verified at once, every message blamed on
 *  its unit; then ExecStart/ExecReload argv, WorkingDirectory, User, Group, ReadWritePaths read back. */
function judgeSystemd(groups: Case[][], fail: Fail): void {
  const dir = path.join(DIR, "units");
  fs.mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  const reps = groups.map((group) => {
    const a = renderA(group[0]);
    const node = a.d.deploy.systemd.nodePath;
    if (node.startsWith(`${DIR}/`) && !fs.existsSync(node)) fs.mkdirSync(path.dirname(node), { recursive: true }), fs.symlinkSync(process.execPath, node);
    for (const f of a.files.filter((x) => isUnit(x.path))) {
      const p = path.join(dir, path.basename(f.path));
      fs.writeFileSync(p, f.content);
      paths.push(p);
    }
    return { group, d: a.d, x: derive(a.d) };
  });
  const r = systemdRead(paths);
  const byName = new Map(reps.flatMap((rep) => [rep.d.name, ...rep.x.others.map((o) => o.unit)].map((u) => [u, rep] as const)));
  for (const line of r.output.split("\n").filter(Boolean)) {
    const unit = /^(?:.*\/)?([^/:]+)\.(?:service|socket)[:]/.exec(line)?.[1];
    const rep = unit ? byName.get(unit) : undefined;
    if (!rep) assert.fail(`systemd-analyze verify: ${line}`);
    // The program of a process type's command may not exist on this host: that is the host, not the file.
    const missing = /Command (.+) is not executable: No such file or directory$/.exec(line)?.[1];
    const other = rep.x.others.find((o) => o.unit === unit);
    if (missing !== undefined && other && String(other.systemdArgv[0].value) === missing) continue;
    fail(rep.group, `systemd-analyze verify: ${line}`);
  }
  for (const { group, d, x } of reps) {
    const want: Array<[string, string, string[]]> = [
      [`${d.name}.service`, "ExecStart", x.systemdWebExec.map((s) => String(s.value))],
      [`${d.name}.service`, "ExecReload", [...x.systemdReload.map((s) => String(s.value)), "$MAINPID"]],
      ...x.others.map((o): [string, string, string[]] => [`${o.unit}.service`, "ExecStart", o.systemdArgv.map((s) => String(s.value))]),
    ];
    for (const [unit, key, argv] of want) {
      const u = r.units.get(unit);
      if (!u) {
        fail(group, `systemd: no dump for ${unit}`);
        continue;
      }
      const eq = (what: string, got: unknown, wanted: unknown) => JSON.stringify(got) !== JSON.stringify(wanted) && fail(group, `systemd ${unit} ${what} reads ${JSON.stringify(got)}`);
      eq(key, u.exec[key], [argv]);
      eq("WorkingDirectory", u.settings.WorkingDirectory, norm(d.deploy.systemd.workingDirectory));
      eq("User", u.settings.User, String(x.systemdUser.value));
      eq("Group", u.settings.Group ?? null, x.systemdGroup ? String(x.systemdGroup.value) : null);
    }
    const rw = r.units.get(`${d.name}.service`)?.settings.ReadWritePaths;
    const wantRw = x.writablePaths.length ? x.writablePaths.map((w) => `-${norm(String(w.value))}`).join(" ") : undefined;
    if (rw !== wantRw) fail(group, `systemd ReadWritePaths reads ${JSON.stringify(rw)}, want ${JSON.stringify(wantRw)}`);
  }
}

/** A path as systemd prints it (normalised, no trailing slash). */
const norm = (p: string) => path.posix.normalize(p).replace(/(.)\/$/, "$1");

/** Compose: `docker stack config` on each distinct compose.yaml; values read back unchanged. */
async function judgeCompose(groups: Case[][], fail: Fail): Promise<void> {
  if (!hasStackConfig) {
    // Debian's docker.io 20.10 CLI has no `stack config` (the Docker CLI 23+ has): say so loudly.
    console.log("# fuzz: WARNING: the docker CLI has no `stack config`: compose.yaml files were not judged");
    return;
  }
  await pool(groups, 4, async (group) => {
    const c = group[0];
    const r = await composeRead(file(c.files, "compose.yaml")!);
    if (!r.config) return fail(group, `docker stack config: ${r.error?.slice(0, 300)}`);
    const x = derive(c.d);
    const s = r.config.services;
    const eq = (what: string, got: unknown, want: unknown) => JSON.stringify(got) !== JSON.stringify(want) && fail(group, `compose ${what} reads ${JSON.stringify(got)}`);
    eq("web image", s.web?.image, x.image);
    eq(
      "web healthcheck",
      s.web?.healthcheck?.test,
      x.composeHealthcheck.map((v) => String(v.value)),
    );
    for (const o of x.others)
      eq(
        `${o.type} command`,
        s[o.type]?.command,
        o.argv.map((v) => String(v.value)),
      );
  });
}

/** The kinds of Dockerfile line that carry free text, and the fixed line a skeleton has in their place. */
const PLACEHOLDER: Record<string, string> = {
  "#": "# prodserver-fuzz",
  RUN: "RUN prodserver-fuzz",
  CMD: 'CMD ["prodserver-fuzz"]',
  HEALTHCHECK: 'HEALTHCHECK CMD ["prodserver-fuzz"]',
};
const kindOf = (line: string) => (line.trimStart().startsWith("#") ? "#" : line.trimStart().split(" ")[0]);
/**
 * The file's instructions as the generator writes them: one per line, except that a line ending in
 * a backslash continues onto the next when that next line is indented (the templates' style for
 * long RUN commands). A backslash anywhere else is not a continuation here, so a value that makes
 * Docker join lines the generator did not mean to join shows up as a difference from the engine.
 */
function instructions(dockerfile: string): string[] {
  const out: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const prev = out.at(-1);
    if (prev !== undefined && /\\[ \t]*$/.test(prev) && /^[ \t]+\S/.test(line)) out[out.length - 1] = `${prev}\n${line}`;
    else out.push(line);
  }
  return out;
}
/** What the shell of a `RUN` instruction gets: its text after `RUN `, continuations removed (Docker
 *  drops the backslash and the line break, keeping the blanks around them). */
const runCommand = (instruction: string) => instruction.slice(4).replace(/\\[ \t]*\n/g, "");
const skeleton = (dockerfile: string) =>
  instructions(dockerfile)
    .map((l) => (l.trim() && PLACEHOLDER[kindOf(l)] ? PLACEHOLDER[kindOf(l)] : l))
    .join("\n");

/**
 * Docker, judged by the engine in two parts that together cover every line of every file:
 *  1. every distinct skeleton (the file with its comment, RUN, CMD and HEALTHCHECK lines swapped for
 *     fixed ones) is built whole by the classic builder: the step list it parsed is the file's
 *     instruction lines, and USER and EXPOSE are in the image config;
 *  2. every distinct comment, CMD and HEALTHCHECK line is built in batches by BuildKit, whose
 *     image history records one entry per instruction it parsed: a comment adds none and swallows
 *     nothing, CMD and HEALTHCHECK hold the derived argv; every distinct RUN line is built as its
 *     own stage (in parallel) and its shell must get the line's command (the description's
 *     build.command where it is that line).
 * (Building each of the ~600 distinct files whole took 20 minutes; this takes well under one.)
 */
async function judgeDocker(cases: Case[], fail: Fail): Promise<{ skeletons: number; lines: number }> {
  const base = await fuzzBaseImage();
  let n = 0;
  const tag = () => {
    const t = `prodserver-deploy-fuzz:${n++}`;
    images.push(t);
    return t;
  };
  const skeletons = distinct(cases, (c) => skeleton(file(c.files, "Dockerfile")!) + "\0" + derive(c.d).pm.buildOutput);
  const t0 = performance.now();
  await pool(skeletons, 2, async (group) => {
    const c = group[0];
    const df = skeleton(file(c.files, "Dockerfile")!);
    const ctx: Record<string, string> = { "package.json": "{}\n" };
    if (c.d.build) ctx[`${derive(c.d).pm.buildOutput}/index.js`] = "// built\n";
    const r = await dockerRead(df, ctx, base, tag());
    for (const p of dockerProblems(r, df, c.d, base)) fail(group, p);
  });
  console.log(`# fuzz: ${skeletons.length} skeletons built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Part 2: each distinct free-text line with what its cases mean by it (null: a comment, no instruction).
  const lines = new Map<string, { want: string[] | null; group: Case[] }>();
  for (const c of cases) {
    const x = derive(c.d);
    for (const line of instructions(file(c.files, "Dockerfile")!)) {
      const kind = kindOf(line);
      if (!line.trim() || !PLACEHOLDER[kind]) continue;
      const want =
        kind === "#"
          ? null
          : kind === "CMD"
            ? x.dockerCmd.map((v) => String(v.value))
            : kind === "HEALTHCHECK"
              ? ["CMD", ...x.dockerHealthcheck.map((v) => String(v.value))]
              : [c.d.build && line === `RUN ${c.d.build.command}` ? c.d.build.command : runCommand(line)];
      const seen = lines.get(line);
      if (seen && JSON.stringify(seen.want) !== JSON.stringify(want)) fail([c], `one line, two meanings: ${line}`);
      lines.set(line, { want, group: [...(seen?.group ?? []), c] });
    }
  }
  const SENTINEL = "LABEL prodserver-fuzz-end=1";
  const judge = async (batch: string[]): Promise<void> => {
    const r = await dockerHistoryOf([...batch, SENTINEL], base, tag());
    const expected = batch.filter((l) => lines.get(l)!.want !== null).length + 1;
    if ((r.entries === null || r.entries.length !== expected) && batch.length > 1) {
      // Bisect to the lines the engine refuses or reads as another number of instructions.
      await judge(batch.slice(0, batch.length >> 1));
      return judge(batch.slice(batch.length >> 1));
    }
    const { group } = lines.get(batch[0])!;
    if (r.entries === null)
      return fail(
        group,
        `BuildKit refuses the line: ${r.error
          ?.split("\n")
          .filter((l) => /error/i.test(l))
          .join(" ")
          .slice(0, 300)}`,
      );
    if (r.entries.length !== expected) return fail(group, `BuildKit reads ${r.entries.length - 1} instructions from the line`);
    const entries = r.entries.slice(0, -1);
    for (const line of batch.filter((l) => lines.get(l)!.want !== null)) {
      const entry = entries.shift()!;
      const { want: w, group: g } = lines.get(line)!;
      const got = readHistory(entry);
      if (JSON.stringify(got) !== JSON.stringify(w)) fail(g, `engine reads ${JSON.stringify(line.slice(0, 40))} as ${JSON.stringify(entry.slice(0, 200))}`);
    }
  };
  // RUN lines run (a container each): one stage per line, built in parallel; read what the shell got.
  const judgeRuns = async (batch: string[]): Promise<void> => {
    const r = await dockerRunsOf(batch, base, tag());
    if (r.shells === null && batch.length > 1) {
      await judgeRuns(batch.slice(0, batch.length >> 1));
      return judgeRuns(batch.slice(batch.length >> 1));
    }
    if (r.shells === null)
      return fail(
        lines.get(batch[0])!.group,
        `BuildKit refuses the RUN line: ${r.error
          ?.split("\n")
          .filter((l) => /error/i.test(l))
          .join(" ")
          .slice(0, 300)}`,
      );
    batch.forEach((line, k) => {
      const { want, group } = lines.get(line)!;
      if (r.shells![k] !== want![0]) fail(group, `the shell got ${JSON.stringify(r.shells![k])} from ${JSON.stringify(line.slice(0, 60))}`);
    });
  };
  const all = [...lines.keys()];
  const runs = all.filter((l) => kindOf(l) === "RUN");
  const batches: string[][] = [];
  const rest = all.filter((l) => kindOf(l) !== "RUN");
  for (let i = 0; i < rest.length; i += 150) batches.push(rest.slice(i, i + 150));
  const t = performance.now();
  await Promise.all([pool(batches, 2, judge), judgeRuns(runs)]);
  console.log(`# fuzz: ${batches.length} BuildKit batches of comment/CMD/HEALTHCHECK lines and ${runs.length} RUN lines in parallel stages, ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return { skeletons: skeletons.length, lines: lines.size };
}

/** The argv a BuildKit history entry records: `CMD ["a" "b"]`, `HEALTHCHECK &{["CMD" ...] ...}`
 *  (Go-quoted lists), `RUN /bin/sh -c CMD # buildkit` (→ [CMD]). */
function readHistory(entry: string): string[] | null {
  const run = /^RUN \/bin\/sh -c ([\s\S]*) # buildkit$/.exec(entry);
  if (run) return [run[1]];
  const m = /^(?:CMD |HEALTHCHECK &\{)(\[[\s\S]*)$/.exec(entry);
  if (!m) return null;
  let q = false; // the list ends at the first `]` outside a quoted string
  for (let i = 0; i < m[1].length; i++) {
    if (m[1][i] === "\\") i++;
    else if (m[1][i] === '"') q = !q;
    else if (m[1][i] === "]" && !q) return goQuotedList(m[1].slice(0, i + 1));
  }
  return null;
}

/** What differs between the engine's reading `r` of a skeleton and what `d` means. */
function dockerProblems(r: DockerReading, dockerfile: string, d: Description, base: string): string[] {
  const out: string[] = [];
  if (r.error)
    out.push(
      `docker build failed: ${r.error
        .split("\n")
        .filter((l) => /error|Error|failed/.test(l))
        .join(" ")
        .slice(0, 300)}`,
    );
  const lines = dockerLines(dockerfile, base);
  const differ = lines.findIndex((l, k) => r.steps[k] !== l);
  if (r.steps.length !== lines.length || differ !== -1) {
    out.push(`steps: engine parsed ${r.steps.length}, file has ${lines.length} instruction lines; first difference ${JSON.stringify([r.steps[differ], lines[differ]])}`);
  }
  const runLines = lines.filter((l) => l.startsWith("RUN ")).map((l) => l.slice(4));
  if (JSON.stringify(r.runs) !== JSON.stringify(runLines)) out.push(`RUN: the engine's commands ${JSON.stringify(r.runs)}`);
  if (r.config) {
    const eq = (what: string, got: unknown, want: unknown) => JSON.stringify(got) !== JSON.stringify(want) && out.push(`image ${what}: ${JSON.stringify(got)}`);
    eq("User", r.config.User, `${d.deploy.uid}:${d.deploy.uid}`);
    eq("ExposedPorts", Object.keys(r.config.ExposedPorts ?? {}), [`${d.port}/tcp`]);
  }
  return out;
}

test("the judges catch the holes issue 10 found (negative controls)", { skip: dockerSkip }, async () => {
  const base = await fuzzBaseImage();
  // Docker: a RUN ending in backslash-space joins the next instruction; Go trims U+0085 off a RUN.
  const joined = await dockerHistoryOf(["RUN npm run build \\ ", "LABEL next=1"], base, "prodserver-deploy-fuzz:control-1");
  images.push("prodserver-deploy-fuzz:control-1");
  assert.equal(joined.entries?.length, 1, JSON.stringify(joined));
  const nel = await dockerHistoryOf(["RUN npm run build\u0085"], base, "prodserver-deploy-fuzz:control-2");
  images.push("prodserver-deploy-fuzz:control-2");
  assert.deepEqual(nel.entries?.map(readHistory), [["npm run build"]]);
  const df = 'FROM node:20-bookworm-slim AS base\nRUN npm run build \\ \nFROM base AS runtime\nCMD ["x"]\n';
  const r = await dockerRead(df, {}, base, "prodserver-deploy-fuzz:control-3");
  images.push("prodserver-deploy-fuzz:control-3");
  assert.notDeepEqual(r.steps, dockerLines(df, base), "the runtime stage disappears into the RUN");
  // Compose interpolates $ in every value.
  const home = await composeRead('services:\n  web:\n    image: "a${HOME}b"\n');
  assert.equal(home.config?.services.web.image, "a/nonexistent-homeb");
  assert.equal((await composeRead('services:\n  web:\n    image: "a$$b"\n')).config?.services.web.image, "a$b");
  assert.ok((await composeRead('services:\n  web:\n    image: "a$5"\n')).error);
  const nel2 = await composeRead('services:\n  web:\n    image: "a\u0085b"\n');
  assert.equal(nel2.config?.services.web.image, "a b", "a raw U+0085 is a YAML line break: folded to a space");
  // nginx: one quoted server_name is one name; an injected directive changes the structure.
  assert.deepEqual(nginxDirectives('server { server_name "a.example b.example"; }')[1].args, ["a.example b.example"]);
  const shape = (t: string) =>
    nginxDirectives(t)
      .map((d) => `${d.depth}:${d.name}`)
      .join(" ");
  assert.notEqual(shape("server { server_name a; return 200 x; }"), shape("server { server_name a; }"));
  // systemd resolves an unescaped specifier at load time; the dump shows it.
  const dir = fs.mkdtempSync(path.join(DIR, "control-"));
  fs.writeFileSync(path.join(dir, "control.service"), `[Service]\nExecStart=${process.execPath} %n $$HOME\n`);
  const sd = systemdRead([path.join(dir, "control.service")]);
  assert.deepEqual(sd.units.get("control.service")?.exec.ExecStart, [[process.execPath, "control.service", "$HOME"]]);
});
