// Fuzz every description field with quotes, backslashes, newlines, `;`, `{`, `}`, `$`, `%`, NUL,
// very long strings... Each case must end in exactly one of:
//  - a DescriptionError whose issues name the field,
//  - an UnsafeValueError whose `field` is the field,
//  - files that the real tools accept AND that mean the value: nginx -t (all confs at once, no
//    output), systemd-analyze verify (all units at once, no output) plus the parsed ExecStart argv
//    and WorkingDirectory read back from systemd's own unit dump, the Dockerfile CMD parsed back as
//    JSON, compose.yaml parsed back as YAML (and `docker stack config` when the CLI has it).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { parse } from "yaml";
import { DescriptionError, validateDescription, webSettings, type Description } from "../../src/description/index.js";
import { renderFiles, derive, UnsafeValueError, type RenderedFile } from "../../src/generate/index.js";

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-fuzz-"));
const NASTY = [
  'a"b', "a'b", "a\\b", "a\nb", "a\r\nb", "a;b", "a{b", "a}b", "a$b", "${HOME}", "$$", "a%b", "%n", "a\0b", "a b", "-x", "#x", "a\tb",
  "x".repeat(5000), "", "end\\", "ä€", "a.b", "my_app",
];

/** [field, how the nasty value becomes the field's value]. Path fields get an absolute prefix so the
 *  case exercises escaping rather than the "must be absolute" rule (which the plain value covers). */
const FIELDS: Array<[string, (v: string) => unknown]> = [
  ["name", (v) => v],
  ["version", (v) => v],
  ["node", (v) => v],
  ["packageManager", (v) => v],
  ["app", (v) => v],
  ["app", (v) => `dist/${v}.js#app`],
  ["build.command", (v) => `npm run build ${v}`],
  ["build.output", (v) => v],
  ["port", (v) => v],
  ["processes.web.bind", (v) => v],
  ["processes.web.bind", (v) => `unix:/run/fz/${v}.sock`],
  ["processes.web.accesslog", (v) => v],
  ["processes.web.accesslog", (v) => `/var/log/fz/${v}.log`],
  ["processes.web.errorlog", (v) => `/var/log/fz/${v}`],
  ["processes.web.access_log_format", (v) => `%(h)s ${v}`],
  ["processes.web.proc_name", (v) => v],
  ["processes.web.loglevel", (v) => v],
  ["processes.web.workers", (v) => v],
  ["processes.web.replicas", (v) => v],
  // Every runtime setting in the description, so a new registry setting is fuzzed too.
  ...webSettings().map((st): [string, (v: string) => unknown] => [`processes.web.${st.name}`, (v) => v]),
  ["processes.worker.command", (v) => `node jobs.js ${v}`],
  ["processes.worker.command", (v) => ["node", "jobs.js", v]],
  ["health.path", (v) => `/${v}`],
  ["deploy.user", (v) => v],
  ["deploy.nginx.serverName", (v) => v],
  ["deploy.nginx.clientMaxBodySize", (v) => v],
  ["deploy.systemd.user", (v) => v],
  ["deploy.systemd.workingDirectory", (v) => `${DIR}/wd/${v}`],
  ["deploy.systemd.workingDirectory", (v) => v],
  ["deploy.systemd.nodePath", (v) => `${DIR}/bin/${v}`],
];

function setPath(obj: any, p: string, value: unknown): any {
  const keys = p.split(".");
  let cur = obj;
  for (const k of keys.slice(0, -1)) cur = cur[k] ??= {};
  cur[keys.at(-1)!] = value;
  return obj;
}

const names = (field: string, p: string) => p === field || p.startsWith(field + ".");

/** Split systemd's dumped command line (shell-style quoting, `\` escapes) and undo `$$`. */
function splitCommandLine(s: string): string[] {
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

interface Rendered {
  i: number;
  field: string;
  d: Description;
  files: RenderedFile[];
}

test("fuzz: every field × every nasty value is a named error or a correct file the tools accept", () => {
  const counts = { schema: 0, escaping: 0, rendered: 0, k8sName: 0 };
  const rendered: Rendered[] = [];
  let i = 0;
  for (const [field, make] of FIELDS) {
    for (const v of NASTY) {
      i++;
      const raw = setPath(
        { name: `fz${i}`, app: "app.js", port: 20000 + i, deploy: { nginx: { listen: 30000 + i }, systemd: { workingDirectory: DIR } } },
        field,
        make(v),
      );
      if (field.startsWith("processes.worker.") && !raw.processes.worker.command) raw.processes.worker.command = "node jobs.js";
      if (field === "build.output") raw.build.command = "npm run build";
      const label = `${field} = ${JSON.stringify(make(v)).slice(0, 60)}`;
      let d: Description;
      try {
        d = validateDescription(raw);
      } catch (e) {
        assert.ok(e instanceof DescriptionError, `${label}: ${e}`);
        assert.ok(e.issues.some((x) => names(field, x.path)), `${label}: issues ${JSON.stringify(e.issues)} do not name the field`);
        counts.schema++;
        continue;
      }
      let files: RenderedFile[];
      try {
        files = renderFiles(d);
      } catch (e) {
        assert.ok(e instanceof UnsafeValueError, `${label}: ${e}`);
        assert.ok(names(field, e.field), `${label}: error names ${e.field}`);
        counts.escaping++;
        continue;
      }
      try {
        renderFiles(d, { targets: ["k8s"] });
      } catch (e) {
        assert.ok(e instanceof UnsafeValueError && names(field, e.field), `${label} (k8s): ${e}`);
        counts.k8sName++;
      }
      counts.rendered++;
      rendered.push({ i, field, d, files });
    }
  }
  const total = counts.schema + counts.escaping + counts.rendered;
  assert.equal(total, FIELDS.length * NASTY.length);
  console.log(`# fuzz: ${total} cases: ${counts.schema} rejected by the schema, ${counts.escaping} refused by escaping, ${counts.rendered} rendered and checked by the tools (${counts.k8sName} of those refused only as a Kubernetes name)`);
  assert.ok(counts.rendered > 50 && counts.schema > 100 && counts.escaping > 10, JSON.stringify(counts));

  // Dockerfile: only known instructions, and the exec-form CMD parses back to the derived argv.
  const INSTR = /^(ARG|FROM|WORKDIR|ENV|RUN|COPY|USER|EXPOSE|HEALTHCHECK|STOPSIGNAL|CMD) /;
  for (const r of rendered) {
    const df = r.files.find((f) => f.path === "Dockerfile")!.content;
    // A line ending in a backslash continues the instruction (Docker's line continuation).
    for (const line of df.replace(/\\\n/g, " ").split("\n")) if (line && !line.startsWith("#")) assert.match(line, INSTR, `case ${r.i} ${r.field}: ${JSON.stringify(line)}`);
    const cmd = df.split("\n").filter((l) => l.startsWith("CMD ")).at(-1)!;
    assert.deepEqual(JSON.parse(cmd.slice(4)), derive(r.d).dockerCmd.map((s) => String(s.value)), `case ${r.i} ${r.field}`);
    const compose = parse(r.files.find((f) => f.path === "compose.yaml")!.content);
    assert.deepEqual(compose.services.web.healthcheck.test.slice(1), derive(r.d).dockerHealthcheck.map((s) => String(s.value)));
    if (compose.services.worker) assert.deepEqual(compose.services.worker.command, derive(r.d).others[0].argv.map((s) => String(s.value)));
  }

  // docker stack config (the compose schema for stacks) on the cases whose values reach compose.yaml.
  const hasStack = spawnSync("docker", ["stack", "config", "--help"], { encoding: "utf8" }).status === 0;
  const composeFields = new Set(["name", "version", "port", "health.path", "processes.worker.command", "processes.web.workers"]);
  for (const r of hasStack ? rendered.filter((x) => composeFields.has(x.field)) : []) {
    const f = path.join(DIR, `compose-${r.i}.yaml`);
    fs.writeFileSync(f, r.files.find((x) => x.path === "compose.yaml")!.content);
    const c = spawnSync("docker", ["stack", "config", "-c", f], { encoding: "utf8" });
    assert.equal(c.status, 0, `case ${r.i} ${r.field}: ${c.stderr}`);
  }

  // nginx -t on every accepted conf at once (distinct upstreams, map variables and listen ports).
  const ngDir = path.join(DIR, "nginx");
  fs.mkdirSync(ngDir, { recursive: true });
  const includes = rendered.map((r) => {
    const f = path.join(ngDir, `${r.i}.conf`);
    fs.writeFileSync(f, r.files.find((x) => x.path.startsWith("deploy/nginx/"))!.content);
    return `  include ${f};`;
  });
  fs.writeFileSync(
    path.join(ngDir, "nginx.conf"),
    `pid ${ngDir}/nginx.pid;\nerror_log ${ngDir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  server_names_hash_bucket_size 128;\n  variables_hash_max_size 16384;\n  variables_hash_bucket_size 128;\n` +
      `  client_body_temp_path ${ngDir}/cb; proxy_temp_path ${ngDir}/px; fastcgi_temp_path ${ngDir}/fc; uwsgi_temp_path ${ngDir}/uw; scgi_temp_path ${ngDir}/sc;\n` +
      `${includes.join("\n")}\n}\n`,
  );
  const ng = spawnSync("/usr/sbin/nginx", ["-t", "-q", "-c", path.join(ngDir, "nginx.conf"), "-p", ngDir + "/"], { encoding: "utf8" });
  assert.equal(ng.status, 0, ng.stderr);
  assert.equal(ng.stderr.trim(), "");

  // systemd-analyze verify on every accepted unit at once; the binary each ExecStart names must exist.
  const sdDir = path.join(DIR, "units");
  fs.mkdirSync(sdDir, { recursive: true });
  const unitFiles: string[] = [];
  for (const r of rendered) {
    const node = r.d.deploy.systemd.nodePath;
    if (!fs.existsSync(node)) {
      fs.mkdirSync(path.dirname(node), { recursive: true });
      fs.symlinkSync(process.execPath, node);
    }
    for (const f of r.files.filter((x) => x.path.startsWith("deploy/systemd/"))) {
      const p = path.join(sdDir, path.basename(f.path));
      fs.writeFileSync(p, f.content);
      unitFiles.push(p);
    }
  }
  const v = spawnSync("systemd-analyze", ["verify", ...unitFiles], { encoding: "utf8", env: { ...process.env, SYSTEMD_LOG_LEVEL: "notice" } });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(`${v.stdout}${v.stderr}`.trim(), "", "verify logs unknown keys and bad values without failing");

  // Read systemd's own parse back from its unit dump: ExecStart argv and WorkingDirectory.
  const dump = spawnSync("systemd-analyze", ["verify", ...unitFiles], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, SYSTEMD_LOG_LEVEL: "debug" } }).stdout;
  const sections = new Map<string, string>();
  for (const part of dump.split(/^\t-> Unit /m).slice(1)) sections.set(part.slice(0, part.indexOf(":")), part);
  let argvChecked = 0;
  for (const r of rendered) {
    const x = derive(r.d);
    const units: Array<[string, string[]]> = [[`${r.d.name}.service`, x.systemdWebExec.map((s) => String(s.value))]];
    for (const o of x.others) units.push([`${o.unit}.service`, o.systemdArgv.map((s) => String(s.value))]);
    for (const [unit, argv] of units) {
      const sec = sections.get(unit);
      assert.ok(sec, `no dump for ${unit}`);
      const line = /-> ExecStart:\n\t+Command Line: (.*)\n/.exec(sec)![1];
      assert.deepEqual(splitCommandLine(line), argv, `case ${r.i} ${r.field}: ${unit} ExecStart`);
      const wd = /\n\t\tWorkingDirectory: (.*)\n/.exec(sec)![1];
      // systemd normalises the path (a trailing / or // goes); the same directory either way.
      const norm = (p: string) => path.posix.normalize(p).replace(/(.)\/$/, "$1");
      assert.equal(wd, norm(r.d.deploy.systemd.workingDirectory), `case ${r.i} ${r.field}: ${unit} WorkingDirectory`);
      argvChecked++;
    }
  }
  assert.ok(argvChecked >= counts.rendered);
});
