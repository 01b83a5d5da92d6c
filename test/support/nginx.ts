/** Run the real nginx (/usr/sbin/nginx, 1.22 here) on generated includes in a temp prefix. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";

export const NGINX = "/usr/sbin/nginx";

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

