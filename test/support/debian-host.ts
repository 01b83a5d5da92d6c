/**
 * A Debian host in a container, for testing generated deploy files where users run them: systemd
 * as PID 1 and Debian's stock nginx (its `default` site enabled), built offline from Debian
 * packages on top of the local node:20-bookworm-slim (recipe: the shared reference
 * systemd-in-docker.md). No procps: `/bin/kill` is absent, as on minimal hosts.
 *
 * The package set is what `apt-get -s install --no-install-recommends systemd systemd-sysv nginx`
 * picks inside the base image (the host's apt lists mounted read-only); the .debs are fetched on
 * the host with `apt-get download` into {@link DEB_CACHE} and COPYed in. The image is tagged by a
 * hash of its recipe and packages, so it is built once and reused (about 20 s to build).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";

/** Where downloaded .debs are kept between runs. */
export const DEB_CACHE = process.env.PRODSERVER_DEB_CACHE ?? "/var/cache/prodserver/debs";
const BASE = "node:20-bookworm-slim";
/** Installed last, in this order (a single `dpkg -i` leaves systemd unconfigured). */
const ORDERED = [["systemd"], ["systemd-sysv"], ["nginx-common", "nginx"]];

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Package names and versions `apt-get` would install into the base image; the answer is cached in
 *  DEB_CACHE per base image and apt lists (resolving takes a container and seconds of apt). */
function packageSet(): Array<{ name: string; version: string }> {
  const lists = fs.existsSync("/var/lib/apt/lists") ? fs.readdirSync("/var/lib/apt/lists").filter((f) => f.includes("Packages")) : [];
  const key = crypto
    .createHash("sha256")
    .update(sh("docker", ["image", "inspect", "--format", "{{.Id}}", BASE]))
    .update(lists.map((f) => `${f}:${fs.statSync(path.join("/var/lib/apt/lists", f)).mtimeMs}`).join())
    .digest("hex")
    .slice(0, 12);
  const cached = path.join(DEB_CACHE, `packages-${key}.json`);
  if (fs.existsSync(cached)) return JSON.parse(fs.readFileSync(cached, "utf8"));
  const pkgs = resolvePackages();
  fs.mkdirSync(DEB_CACHE, { recursive: true });
  fs.writeFileSync(cached, JSON.stringify(pkgs));
  return pkgs;
}

function resolvePackages(): Array<{ name: string; version: string }> {
  const list = () =>
    spawnSync("docker", ["run", "--rm", "-v", "/var/lib/apt/lists:/var/lib/apt/lists:ro", BASE, "apt-get", "-s", "install", "--no-install-recommends", "systemd", "systemd-sysv", "nginx"], {
      encoding: "utf8",
    });
  let r = list();
  if (!/^Inst /m.test(r.stdout)) {
    sh("apt-get", ["update", "-qq"]); // the host's lists are missing or stale
    r = list();
  }
  const pkgs = [...r.stdout.matchAll(/^Inst (\S+) \((\S+) /gm)].map((m) => ({ name: m[1], version: m[2] }));
  if (!pkgs.some((p) => p.name === "systemd")) throw new Error(`apt-get -s install in ${BASE} picked no systemd:\n${r.stdout}${r.stderr}`);
  return pkgs;
}

/** The .deb file names for `pkgs`, downloaded into DEB_CACHE when missing. */
function debs(pkgs: Array<{ name: string; version: string }>): string[] {
  fs.mkdirSync(DEB_CACHE, { recursive: true });
  const file = (p: { name: string; version: string }) => fs.readdirSync(DEB_CACHE).find((f) => f.startsWith(`${p.name}_${p.version.replace(":", "%3a")}_`) && f.endsWith(".deb"));
  const missing = pkgs.filter((p) => !file(p));
  if (missing.length) sh("apt-get", ["download", "-q", ...missing.map((p) => `${p.name}=${p.version}`)], { cwd: DEB_CACHE });
  return pkgs.map((p) => {
    const f = file(p);
    if (!f) throw new Error(`apt-get download left no .deb for ${p.name} ${p.version} in ${DEB_CACHE}`);
    return f;
  });
}

/**
 * The Debian host image (systemd as PID 1, stock nginx, node at /usr/bin/node, no procps); built when
 * its tag is absent. @returns the tag.
 */
export function debianHostImage(): string {
  const pkgs = packageSet();
  const files = debs(pkgs);
  const last = new Set(ORDERED.flat());
  const first = files.filter((_, i) => !last.has(pkgs[i].name));
  const step = (names: string[]) =>
    files
      .filter((_, i) => names.includes(pkgs[i].name))
      .map((f) => `/tmp/debs/${f}`)
      .join(" ");
  const recipe = [
    `FROM ${BASE}`,
    "COPY debs/ /tmp/debs/",
    // policy-rc.d: no service starts during the build; the order: libraries, systemd, systemd-sysv, nginx.
    "RUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d" +
      ` && dpkg -i ${first.map((f) => `/tmp/debs/${f}`).join(" ")}` +
      ORDERED.map((names) => ` && dpkg -i ${step(names)}`).join("") +
      " && rm -rf /tmp/debs /usr/sbin/policy-rc.d" +
      " && systemctl mask systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket getty.target console-getty.service systemd-logind.service" +
      // Not needed in a container, and a second or more of boot each on a busy machine.
      " e2scrub_reap.service systemd-modules-load.service modprobe@.service systemd-remount-fs.service dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount" +
      " && ln -sf /usr/local/bin/node /usr/bin/node && ! test -e /bin/kill",
    "ENV container=docker",
    "STOPSIGNAL SIGRTMIN+3",
    'CMD ["/sbin/init"]',
  ].join("\n");
  const baseId = sh("docker", ["image", "inspect", "--format", "{{.Id}}", BASE]).trim();
  const tag = `prodserver-test/debian-host:${crypto
    .createHash("sha256")
    .update(recipe + baseId + files.join())
    .digest("hex")
    .slice(0, 12)}`;
  if (spawnSync("docker", ["image", "inspect", tag], { stdio: "ignore" }).status === 0) return tag;
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-debian-host-"));
  try {
    fs.mkdirSync(path.join(ctx, "debs"));
    for (const f of files) fs.copyFileSync(path.join(DEB_CACHE, f), path.join(ctx, "debs", f));
    fs.writeFileSync(path.join(ctx, "Dockerfile"), recipe + "\n");
    sh("docker", ["build", "-q", "-t", tag, ctx]);
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

/** A booted Debian host container; every method runs the docker CLI. Remove it with {@link remove}. */
export class DebianHost {
  private constructor(readonly id: string) {}

  /**
   * Boot `image` (systemd as PID 1) with `mounts` (`host:container[:ro]`); resolves once
   * `systemctl is-system-running` says running or degraded (bounded: 30 s).
   * Runs as the shared reference found it boots on this engine: all capabilities but
   * CAP_SYS_RESOURCE (the engine's bounding set lacks it, so --privileged fails), no seccomp or
   * AppArmor profile, tmpfs /run and /tmp, the host's cgroup tree.
   */
  static async boot(image: string, mounts: string[], name: string): Promise<DebianHost> {
    const id = sh("docker", [
      "run",
      "-d",
      "--name",
      name,
      "--cap-add",
      "ALL",
      "--cap-drop",
      "SYS_RESOURCE",
      "--security-opt",
      "seccomp=unconfined",
      "--security-opt",
      "apparmor=unconfined",
      "--tmpfs",
      "/run",
      "--tmpfs",
      "/run/lock",
      "--tmpfs",
      "/tmp",
      "-v",
      "/sys/fs/cgroup:/sys/fs/cgroup:rw",
      ...mounts.flatMap((m) => ["-v", m]),
      image,
    ]).trim();
    const host = new DebianHost(id);
    let state = "";
    for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
      state = host.run(["systemctl", "is-system-running"]).stdout.trim();
      if (state === "running" || state === "degraded") return host;
    }
    throw new Error(`systemd in ${name} did not come up (state ${JSON.stringify(state)}): ${host.run(["systemctl", "--failed", "--no-pager"]).stdout}`);
  }

  /** `docker exec` a command; never throws. */
  run(argv: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("docker", ["exec", this.id, ...argv], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Run a shell script; throws with its output when it fails. */
  sh(script: string): string {
    const r = this.run(["sh", "-ec", script]);
    if (r.status !== 0) throw new Error(`in the host: ${script}\nexit ${r.status}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** Write `content` to `dest` in the container (mode 0644, via `docker cp` of a temp file). */
  write(dest: string, content: string): void {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-host-file-"));
    try {
      fs.writeFileSync(path.join(tmp, "f"), content, { mode: 0o644 });
      sh("docker", ["cp", path.join(tmp, "f"), `${this.id}:${dest}`]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** `systemctl show -p NAME` values of a unit. */
  show(unit: string, ...props: string[]): Record<string, string> {
    const out = this.sh(`systemctl show ${props.map((p) => `-p ${p}`).join(" ")} ${unit}`);
    return Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  /** Stop and remove the container. */
  remove(): void {
    spawnSync("docker", ["rm", "-f", this.id], { stdio: "ignore" });
  }
}
