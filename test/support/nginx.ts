/** Run the real nginx (/usr/sbin/nginx, 1.22 here) on generated includes in a temp prefix. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";

export const NGINX = "/usr/sbin/nginx";

/** A self-signed certificate + key (1 day) written by the real openssl into `dir` (a temp dir when omitted). */
export function selfSigned(dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-tls-"))): { certificate: string; certificateKey: string } {
  fs.mkdirSync(dir, { recursive: true });
  const certificate = path.join(dir, "cert.pem");
  const certificateKey = path.join(dir, "key.pem");
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", certificateKey, "-out", certificate], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return { certificate, certificateKey };
}

/** Write a minimal nginx.conf that includes `confs` in http{}, run `nginx -t`; returns status + output. */
export function nginxTest(confs: string[]): { status: number | null; output: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-nginx-"));
  const includes = confs.map((c, i) => {
    fs.writeFileSync(path.join(dir, `app${i}.conf`), c);
    return `  include ${dir}/app${i}.conf;`;
  });
  fs.writeFileSync(
    path.join(dir, "nginx.conf"),
    [
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      "events {}",
      "http {",
      `  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc;`,
      `  uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc; access_log off;`,
      ...includes,
      "}",
      "",
    ].join("\n"),
  );
  const r = spawnSync(NGINX, ["-t", "-q", "-c", path.join(dir, "nginx.conf"), "-p", dir + "/"], { encoding: "utf8" });
  return { status: r.status, output: (r.stdout + r.stderr).trim(), dir };
}

/** `conf` with every `listen PORT ...` bound to loopback: `127.0.0.1:PORT` and `[::1]:PORT` for
 *  `[::]:PORT` (tests send traffic to loopback only). Other listen parameters are kept. */
export function loopbackListen(conf: string): string {
  return conf.replace(/^(\s*listen )\[::\]:(\d+)/gm, "$1[::1]:$2").replace(/^(\s*listen )(\d+)/gm, "$1127.0.0.1:$2");
}

/**
 * Start the real nginx (foreground, `worker_processes 1`) with `conf` as the only include in
 * http{}, in the temp prefix `dir`; `listen N` lines are bound to loopback here ({@link loopbackListen}).
 * The caller stops it by PID (`proc.kill("SIGQUIT")`). Logs collect in `log.text`.
 */
export function startNginx(conf: string, dir: string): { proc: import("node:child_process").ChildProcess; log: { text: string } } {
  fs.writeFileSync(path.join(dir, "app.conf"), loopbackListen(conf));
  fs.writeFileSync(
    path.join(dir, "nginx.conf"),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nworker_processes 1;\nevents {}\nhttp {\n  access_log off;\n` +
      `  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;\n` +
      `  include ${dir}/app.conf;\n}\n`,
  );
  const proc = spawn(NGINX, ["-c", path.join(dir, "nginx.conf"), "-p", dir + "/", "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  const log = { text: "" };
  proc.stderr!.on("data", (c) => (log.text += c));
  return { proc, log };
}

/**
 * Processes a test file started (runtimes, nginx), stopped by PID in its `after`: SIGTERM, then
 * SIGKILL after 10 s. Call `stopStarted()` from `after`.
 */
export const started: import("node:child_process").ChildProcess[] = [];
export async function stopStarted(): Promise<void> {
  for (const p of started.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill("SIGTERM");
      await new Promise((r) => {
        const t = setTimeout(() => {
          p.kill("SIGKILL");
          r(null);
        }, 10000);
        p.once("exit", () => {
          clearTimeout(t);
          r(null);
        });
      });
    }
  }
}
