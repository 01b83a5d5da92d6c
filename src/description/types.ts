/**
 * Public types of the project description (`prodserver.config.ts`). The zod schema in
 * ./schema.ts is the validator; these interfaces are the documented, typed face of it.
 * Units: every duration is in seconds, sizes are nginx sizes (`16m`).
 */
import type { Framework } from "./frameworks/types.js";

/** Runtime settings for the web process (names as Gunicorn/runtime/settings.ts). All optional:
 *  an unset setting is left to the runtime's default and not emitted as a flag. */
export interface WebProcess {
  /** Worker processes; `auto` = CPUs the cgroup quota allows (Gunicorn `workers`). */
  workers?: number | "auto";
  /** Heartbeat timeout, seconds (Gunicorn `timeout`). */
  timeout?: number;
  /** Drain time after SIGTERM, seconds (Gunicorn `graceful_timeout`); drives TimeoutStopSec etc. */
  graceful_timeout?: number;
  /** Keep-alive idle timeout, seconds (Gunicorn `keepalive`); nginx's upstream keepalive_timeout stays below it. */
  keepalive?: number;
  /** Extra bind addresses besides the generated one (`unix:/run/x.sock`, ...). */
  bind?: string | string[];
  backlog?: number;
  accesslog?: string | null;
  access_log_format?: string;
  log_format?: "text" | "json";
  errorlog?: string;
  loglevel?: "debug" | "info" | "warning" | "error" | "critical";
  proc_name?: string | null;
  /** Containers to run in compose/swarm/k8s; default 1. */
  replicas?: number;
  /** Any other setting the runtime registry defines (validated by it). */
  [setting: string]: unknown;
}

/** A non-web process type (`worker`, `jobs`): same image/host, no port, no nginx. */
export interface OtherProcess {
  /** Command line split on whitespace (`node dist/jobs.js`; quotes are NOT interpreted), or an argv array. */
  command: string | string[];
  /** Containers to run in compose/swarm/k8s; default 1. */
  replicas?: number;
}

/** TLS for the nginx server: a `listen <listen> ssl` server plus an HTTP→HTTPS 301 redirect server. */
export interface NginxTls {
  /** Absolute path of the PEM certificate (chain) nginx reads (`ssl_certificate`). */
  certificate: string;
  /** Absolute path of the PEM private key (`ssl_certificate_key`). */
  certificateKey: string;
  /** Send `Strict-Transport-Security: max-age=31536000` (one year, seconds); default false. */
  hsts?: boolean;
  /** HTTPS port; default 443. */
  listen?: number;
}

/** Optional nginx features (issue "Deploy files that pass the real tools"). */
export interface NginxExtras {
  /** Upstream servers, `host:port`, `[ipv6]:port` or `unix:/path`; default `127.0.0.1:<port>`. */
  upstreams?: string[];
  /** nginx load balancing: round_robin (nginx's default) or `least_conn`; default round_robin. */
  balance?: "round_robin" | "least_conn";
  /** Served by nginx from disk with `expires 7d` and `access_log off`; nginx `root` semantics
   *  (`/static/a.css` → `<root>/static/a.css`). Default none. */
  static?: Array<{ location: string; root: string }>;
  tls?: NginxTls;
  /** Per client address (`$binary_remote_addr`, 10 MB zone): `rate` as nginx (`10r/s`, `600r/m`),
   *  `burst` requests queued beyond it (default 0); excess → 429. */
  rateLimit?: { rate: string; burst?: number };
}

/** A HorizontalPodAutoscaler (autoscaling/v2) for the web Deployment. */
export interface K8sHpa {
  /** Replicas, 1..1000, min <= max. */
  min: number;
  max: number;
  /** Target average CPU utilization in percent of the CPU request, 1..1000; default 70. */
  cpu?: number;
}

/** An app inside an npm/yarn/pnpm workspace: the image is built from the workspace root. */
export interface Workspace {
  /** The app folder relative to the workspace root, POSIX (`apps/web`). */
  path: string;
  /** The app's package name (its package.json `name`): `--workspace`, `--filter`, `workspaces focus`. */
  package: string;
}

/** What `defineConfig` accepts: fields with defaults may be omitted. */
export interface DescriptionInput {
  /** `[a-z0-9][a-z0-9._-]{0,62}`: image name, unit names, nginx upstream. */
  name: string;
  /** Image tag; default `latest`. */
  version?: string;
  /** Node major for `node:<node>-bookworm-slim`; default: the newest LTS line (src/description/node-versions.ts). */
  node?: string | number;
  /** default `npm`. */
  packageManager?: "npm" | "pnpm" | "yarn";
  /** The workspace the app belongs to (detected by `prodserver init`); default null (no workspace). */
  workspace?: Workspace | null;
  /** The framework detection found (src/description/frameworks/): decides what the image's runtime
   *  stage carries (Next.js standalone, Nuxt's `.output`, ...); null (default) = the app's files,
   *  its production dependencies and its build output. */
  framework?: Framework | null;
  /** What `prodserver serve` loads: `module#export`, `module#factory()`, `module` (after build). */
  app: string;
  /** Build step, or null (default) when the app runs from its sources. `output` default `dist`. */
  build?: { command: string; output?: string } | null;
  /** Port the runtime binds in containers (0.0.0.0:port) and on hosts (127.0.0.1:port); default 3000. */
  port?: number;
  processes?: { web?: WebProcess } & { [type: string]: WebProcess | OtherProcess | undefined };
  /** Health check, seconds; defaults path `/readyz`, interval 10, timeout 3, startPeriod 20, retries 3. */
  health?: { path?: string; interval?: number; timeout?: number; startPeriod?: number; retries?: number };
  deploy?: {
    /** Numeric UID (= GID) in the image; default 1000. */
    uid?: number;
    /** User name in the image; default `node`. */
    user?: string;
    /** `proxyReadTimeout` (seconds) default max(60, processes.web.timeout + 5). */
    nginx?: { serverName?: string; listen?: number; clientMaxBodySize?: string; proxyReadTimeout?: number } & NginxExtras;
    /** `workingDirectory` default `/srv/<name>`; `nodePath` default `/usr/bin/node`. */
    systemd?: { user?: string; workingDirectory?: string; nodePath?: string };
    k8s?: { hpa?: K8sHpa };
  };
}

/** A validated description: every default applied. */
export interface Description {
  name: string;
  version: string;
  node: string;
  packageManager: "npm" | "pnpm" | "yarn";
  workspace: Workspace | null;
  framework: Framework | null;
  app: string;
  build: { command: string; output: string } | null;
  port: number;
  processes: { web: WebProcess } & { [type: string]: WebProcess | OtherProcess };
  health: { path: string; interval: number; timeout: number; startPeriod: number; retries: number };
  deploy: {
    uid: number;
    user: string;
    nginx: { serverName: string; listen: number; clientMaxBodySize: string; proxyReadTimeout?: number } & Required<Pick<NginxExtras, "balance" | "static">> &
      Omit<NginxExtras, "balance" | "static" | "tls"> & { tls?: Required<NginxTls> };
    systemd: { user: string; workingDirectory: string; nodePath: string };
    k8s: { hpa?: Required<K8sHpa> };
  };
}
