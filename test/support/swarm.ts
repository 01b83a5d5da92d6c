/**
 * One-node swarm helpers for the rolling-update test: swarm init/leave on this engine (only when
 * the test initialised it), the generator's compose.yaml adapted to this engine, service
 * convergence polling, and a bounded wrk run with its output parsed.
 */
import { existsSync } from "node:fs";
import { execa } from "execa";
import type Dockerode from "dockerode";

/** The docker CLI used for `stack deploy` / `service update` (28.x client on PATH). */
export const DOCKER_CLI = "docker";

/** Initialises a one-node swarm on loopback unless one is active. @returns true when we created it. */
export async function ensureSwarm(docker: Dockerode): Promise<{ created: boolean; hadGwbridge: boolean } | { skip: string }> {
  const state = (await docker.info()).Swarm?.LocalNodeState;
  if (state === "active") return { skip: "this engine is already part of a swarm: the one-node swarm test does not touch a swarm it did not create" };
  if (state !== "inactive") return { skip: `swarm state is ${state}` };
  const hadGwbridge = (await docker.listNetworks({ filters: { name: ["docker_gwbridge"] } })).length > 0;
  await docker.swarmInit({ ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1:2377", ForceNewCluster: false });
  return { created: true, hadGwbridge };
}

/**
 * Leaves the swarm (force: this node is the only manager) and removes the docker_gwbridge network
 * swarm init created (unless it existed before). Never throws.
 */
export async function leaveSwarm(docker: Dockerode, hadGwbridge: boolean): Promise<void> {
  await docker.swarmLeave({ force: true }).catch((e: Error) => console.error(`swarm leave: ${e.message}`));
  if (!hadGwbridge)
    await docker
      .getNetwork("docker_gwbridge")
      .remove()
      .catch(() => {});
}

/**
 * Adapts the generator's compose.yaml for the test engine (text edits; each anchor must be found,
 * so a template change fails loudly here instead of testing something else):
 * - the web service's `ports:` block is removed (swarm's ingress publishing needs IPVS, and would
 *   publish on every interface and intercept host port traffic during the test);
 * - `endpoint_mode: dnsrr` (a VIP needs IPVS too) and the attachable overlay network `edge`, which
 *   the test's load balancer container joins.
 * @throws Error naming the missing anchor
 */
export function adaptCompose(yaml: string): string {
  const lines = yaml.split("\n");
  const web = lines.indexOf("  web:");
  if (web < 0) throw new Error("adaptCompose: no `  web:` service in compose.yaml");
  const ports = lines.findIndex((l, i) => i > web && l === "    ports:");
  if (ports >= 0) {
    let end = ports + 1;
    while (end < lines.length && (lines[end].startsWith("      ") || lines[end].trim() === "")) end++;
    lines.splice(ports, end - ports);
  }
  const deploy = lines.findIndex((l, i) => i > web && l === "    deploy:");
  if (deploy < 0) throw new Error("adaptCompose: no `    deploy:` under the web service");
  lines.splice(deploy + 1, 0, "      endpoint_mode: dnsrr");
  lines.splice(web + 1, 0, "    networks: [edge]");
  if (lines.some((l) => l.startsWith("networks:"))) throw new Error("adaptCompose: compose.yaml already has top-level networks");
  return `${lines.join("\n").trimEnd()}\nnetworks:\n  edge:\n    driver: overlay\n    attachable: true\n`;
}

/** First `name` executable on PATH, or null. */
export function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** Whether this kernel has IPVS (needed by swarm's service VIPs and routing mesh). */
export function hasIpvs(): boolean {
  return existsSync("/proc/net/ip_vs");
}

/**
 * Waits until every task of `service` that should run is running the given image and healthy
 * (Docker health; tasks of images without HEALTHCHECK count when running). Bounded by `seconds`.
 * @throws Error with the task states seen when the deadline passes
 */
export async function waitConverged(docker: Dockerode, service: string, imageId: string, replicas: number, seconds: number): Promise<number> {
  const start = performance.now();
  let last = "";
  while (performance.now() - start < seconds * 1000) {
    const tasks = await docker.listTasks({ filters: { service: [service], "desired-state": ["running"] } });
    const running = tasks.filter((t: any) => t.Status?.State === "running");
    const healthy: boolean[] = [];
    for (const t of running as any[]) {
      const cid = t.Status?.ContainerStatus?.ContainerID;
      if (!cid) {
        healthy.push(false);
        continue;
      }
      const c = await docker
        .getContainer(cid)
        .inspect()
        .catch(() => null);
      healthy.push(!!c && c.Image === imageId && (c.State.Health ? c.State.Health.Status === "healthy" : c.State.Running));
    }
    last = tasks.map((t: any) => `${t.Status?.State}`).join(",") + ` healthy=${healthy.filter(Boolean).length}`;
    if (tasks.length === replicas && healthy.length === replicas && healthy.every(Boolean)) return (performance.now() - start) / 1000;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`service ${service} did not converge on ${imageId.slice(7, 19)} x${replicas} within ${seconds} s (tasks: ${last})`);
}

/** Parsed wrk summary. Counts are requests; `errors` sums socket errors and non-2xx/3xx responses. */
export interface WrkResult {
  requests: number;
  non2xx3xx: number;
  socket: { connect: number; read: number; write: number; timeout: number };
  errors: number;
  raw: string;
}

/** Parses wrk's text summary (wrk 4.x). */
export function parseWrk(out: string): WrkResult {
  const n = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socket = sock ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) } : { connect: 0, read: 0, write: 0, timeout: 0 };
  const non2xx3xx = n(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests: n(/(\d+) requests in /),
    non2xx3xx,
    socket,
    errors: non2xx3xx + socket.connect + socket.read + socket.write + socket.timeout,
    raw: out,
  };
}

/**
 * Runs wrk against a loopback URL for a bounded time (`seconds`, hard-killed 15 s later).
 * @throws Error when the URL is not loopback or wrk fails to run
 */
export async function runWrk(url: string, seconds: number, connections = 8): Promise<WrkResult> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`runWrk: ${url} is not a loopback URL`);
  const r = await execa("wrk", ["-t", "2", "-c", String(connections), "-d", `${seconds}s`, "--timeout", "5s", url], {
    reject: false,
    timeout: (seconds + 15) * 1000,
    all: true,
  });
  if (r.exitCode !== 0) throw new Error(`wrk failed (${r.exitCode ?? r.signal}): ${r.all}`);
  return parseWrk(String(r.stdout));
}
