/**
 * The project description schema (zod 4): one object drives the runtime's settings and every
 * generated file. Shape (see the contracts file, "The project description"):
 *
 * ```
 * { name, version, node, packageManager, app, build: { command, output } | null, port,
 *   processes: { web: { <runtime settings> }, <type>: { command } },
 *   health: { path, interval, timeout, startPeriod, retries },          // seconds
 *   deploy: { uid, user, replicas, nginx: { serverName, listen, clientMaxBodySize, proxyReadTimeout,
 *             upstreams?, balance, static, tls?, rateLimit? },
 *             systemd: { user, workingDirectory, nodePath }, k8s: { hpa? } } }
 * ```
 *
 * `processes.web` is built from runtime/settings.ts: every setting with `inDescription !== false`
 * except `app` (which is the top-level `app`), each validated by the setting's own `validate`, so
 * the rules live in one place. Every validation error names the field path
 * (`processes.web.workers: must be between 1 and 1024, got 0`).
 */
import { z } from "zod";
import { reusePortUnsupported } from "../../runtime/listeners.js";
import { SETTINGS, type Setting } from "../../runtime/settings.js";
import { newestLtsMajor } from "./node-versions.js";
import { FRAMEWORKS } from "./frameworks/types.js";

/** `[a-z0-9][a-z0-9._-]{0,62}`: used for the image name, unit names and the nginx upstream. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Process type names (`web`, `worker`, `jobs`): systemd unit and compose service suffixes. */
export const PROCESS_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

/** Settings excluded from `processes.web`: `app` is the description's top-level `app`. */
const NOT_WEB = new Set(["app"]);

/** The settings that make up `processes.web`, in registry order. */
export function webSettings(): Setting[] {
  return (SETTINGS as readonly Setting[]).filter((s) => s.inDescription !== false && !NOT_WEB.has(s.name));
}

/** Strip the `name (from source): ` prefix SettingError adds, since our messages carry the path. */
function settingMessage(e: unknown, name: string): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.startsWith(`${name}: `) ? m.slice(name.length + 2) : m;
}

/** A zod type for one setting: a JSON-Schema-friendly base type refined by the setting's validate. */
function settingSchema(s: Setting): z.ZodType {
  let base: z.ZodType;
  let acceptsAuto = false;
  try {
    s.validate("auto", "");
    acceptsAuto = s.type === "int" || s.type === "number";
  } catch {
    /* "auto" is not a keyword of this setting */
  }
  switch (s.type) {
    case "int":
      base = acceptsAuto ? z.union([z.int(), z.literal("auto")]) : z.int();
      break;
    case "number":
      base = acceptsAuto ? z.union([z.number(), z.literal("auto")]) : z.number();
      break;
    case "boolean":
      base = z.boolean();
      break;
    case "list":
      base = z.union([z.string(), z.array(z.string())]);
      break;
    case "enum":
      base = z.enum(s.choices as [string, ...string[]]);
      break;
    default:
      base = z.string();
  }
  if (s.default === null) base = base.nullable();
  return base
    .superRefine((v, ctx) => {
      try {
        s.validate(v, "");
      } catch (e) {
        ctx.addIssue({ code: "custom", message: settingMessage(e, s.name) });
      }
    })
    .optional()
    .meta({ description: s.doc + (s.unit ? ` (${s.unit})` : "") });
}

const seconds = (min: number, max: number) => z.number().min(min).max(max);
const absPath = (what: string) => z.string().regex(/^\/[^\0\n\r]*$/, { error: `expected an absolute ${what} path (starting with /)` });
/** A relative path inside the app folder: no `..`, no leading `/`, only [A-Za-z0-9._@+/-]. */
const relPath = z.string().regex(/^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._@+/-]+$/, {
  error: "expected a relative path inside the app folder ([A-Za-z0-9._@+/-], no ..)",
});

/** One non-web process type: a command run in the same image / on the same host, no port. */
const processSchema = z.strictObject({
  command: z
    .union([
      z.string().regex(/^[^\0-\x1f\x7f]*\S[^\0-\x1f\x7f]*$/, {
        error: "must be one non-empty line (no newline, NUL or other control characters); use an array of arguments for anything else",
      }),
      z
        .array(
          z
            .string()
            .min(1)
            .regex(/^[^\0-\x1f\x7f]*$/, { error: "an argument must not contain control characters (newline, NUL, ...)" }),
        )
        .min(1),
    ])
    .meta({ description: 'Command: `node dist/jobs.js` (split on whitespace; quotes are not interpreted) or an argv array `["node", "dist/jobs.js"]`.' }),
  replicas: z.int().min(0).max(1000).optional().meta({ description: "Containers to run (compose/k8s); default 1." }),
});

function webSchema() {
  const shape: Record<string, z.ZodType> = {};
  for (const s of webSettings()) shape[s.name] = settingSchema(s);
  shape.replicas = z.int().min(0).max(1000).optional().meta({ description: "Containers to run (compose/k8s); default 1." });
  return z.strictObject(shape);
}

/** Build the zod schema (built per call so it follows the settings registry). */
export function descriptionSchema() {
  const web = webSchema();
  return z
    .strictObject({
      name: z.string().regex(NAME_PATTERN, { error: "expected [a-z0-9][a-z0-9._-]{0,62} (lower case, digits, . _ -)" }),
      version: z.string().regex(TAG_PATTERN, { error: "expected a Docker tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}" }).default("latest"),
      node: z
        .union([z.string(), z.int()])
        .transform(String)
        .pipe(z.string().regex(/^(2\d|[3-9]\d)$/, { error: 'expected a Node major version >= 20, like "24" or "26"' }))
        // The newest LTS line today (./node-versions.ts); `prodserver init` writes the value out.
        .default(() => String(newestLtsMajor() ?? 24)),
      packageManager: z.enum(["npm", "pnpm", "yarn"]).default("npm"),
      workspace: z
        .strictObject({
          path: relPath.regex(/^[^.]/, { error: "expected the app folder relative to the workspace root, like apps/web" }),
          package: z.string().regex(/^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/, { error: "expected the app's package.json name" }),
        })
        .nullable()
        .default(null)
        .meta({
          description:
            "The workspace (npm/yarn `workspaces`, pnpm-workspace.yaml) the app belongs to: its folder relative to the workspace root and its package name. The image is built from the workspace root with only this package's production dependencies.",
        }),
      framework: z.enum(FRAMEWORKS).nullable().default(null).meta({
        description:
          "The app's framework, as detected (express, koa, hono, fastify, node, fastify-cli, nestjs, nextjs, sveltekit, nuxt, astro, react-router): decides what the image's runtime stage carries (README, \"Frameworks\"). null: the app's files, its production dependencies and its build output.",
      }),
      app: z.string().superRefine((v, ctx) => {
        try {
          (SETTINGS as readonly Setting[]).find((s) => s.name === "app")!.validate(v, "");
        } catch (e) {
          ctx.addIssue({ code: "custom", message: settingMessage(e, "app") });
          return;
        }
        if (/\.(ts|mts|cts|tsx)([#:]|$)/.test(v)) {
          ctx.addIssue({
            code: "custom",
            message: `the runtime loads JavaScript: point at the build output (e.g. ${JSON.stringify(v.replace(/^src\//, "dist/").replace(/\.([mc]?)tsx?(?=[#:]|$)/, ".$1js"))}), got ${JSON.stringify(v)}`,
          });
        }
      }),
      build: z
        .strictObject({
          command: z
            .string()
            .min(1)
            .regex(/^[^\0\n\r]*[^\\\0\n\r]$/, { error: "must be one line (no newline, NUL, or trailing backslash)" }),
          output: relPath.default("dist"),
        })
        .nullable()
        .default(null),
      port: z.int().min(1).max(65535).default(3000),
      processes: z
        .object({ web: web.default({}) })
        .catchall(processSchema)
        .superRefine((p, ctx) => {
          for (const k of Object.keys(p)) {
            if (!PROCESS_PATTERN.test(k)) ctx.addIssue({ code: "custom", path: [k], message: "a process type name is [a-z][a-z0-9-]{0,30}" });
          }
        })
        .prefault({}),
      health: z
        .strictObject({
          path: z
            .string()
            .regex(/^\/[A-Za-z0-9._~/-]*$/, { error: "expected a URL path like /readyz ([A-Za-z0-9._~/-])" })
            .default("/readyz"),
          interval: seconds(1, 3600).default(10),
          timeout: seconds(1, 3600).default(3),
          startPeriod: seconds(0, 3600).default(20),
          retries: z.int().min(1).max(100).default(3),
        })
        .prefault({}),
      deploy: z
        .strictObject({
          uid: z.int().min(1).max(2147483647).default(1000).meta({ description: "Numeric UID:GID in the image (non-root)." }),
          user: z
            .string()
            .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "expected a user name [a-z_][a-z0-9_-]{0,31}" })
            .default("node"),
          nginx: z
            .strictObject({
              serverName: z
                .string()
                .regex(/^(_|[A-Za-z0-9*.~^:-][A-Za-z0-9*.:-]*)( (_|[A-Za-z0-9*.~^:-][A-Za-z0-9*.:-]*))*$/, {
                  error: "expected host names separated by single spaces (or _)",
                })
                .default("_"),
              listen: z.int().min(1).max(65535).default(80),
              clientMaxBodySize: z
                .string()
                .regex(/^\d{1,9}[kKmMgG]?$/, { error: "expected a size like 16m, 512k, 1g" })
                .default("16m"),
              proxyReadTimeout: seconds(1, 86400).optional().meta({ description: "nginx proxy_read_timeout/proxy_send_timeout, seconds; default max(60, processes.web.timeout + 5)." }),
              upstreams: z
                .array(
                  z.string().regex(/^(unix:\/[A-Za-z0-9._@+/-]+|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5})$/, {
                    error: "expected host:port, [ipv6]:port or unix:/absolute/path",
                  }),
                )
                .min(1)
                .optional()
                .meta({ description: "Upstream servers; default the one runtime at 127.0.0.1:<port>." }),
              balance: z.enum(["round_robin", "least_conn"]).default("round_robin"),
              static: z
                .array(
                  z.strictObject({
                    location: z.string().regex(/^\/([A-Za-z0-9._~-]+\/)*$/, { error: "expected a URL prefix like /static/ (starts and ends with /)" }),
                    root: absPath("directory"),
                  }),
                )
                .default([])
                .meta({ description: "Locations nginx serves from disk (nginx `root` semantics: /static/a.css -> <root>/static/a.css)." }),
              tls: z
                .strictObject({
                  certificate: absPath("certificate file"),
                  certificateKey: absPath("key file"),
                  hsts: z.boolean().default(false),
                  listen: z.int().min(1).max(65535).default(443),
                })
                .optional(),
              rateLimit: z
                .strictObject({
                  rate: z.string().regex(/^[1-9]\d{0,5}r\/[sm]$/, { error: "expected a rate like 10r/s or 600r/m" }),
                  burst: z.int().min(0).max(100000).default(0),
                })
                .optional(),
            })
            .prefault({}),
          systemd: z
            .strictObject({
              user: z
                .string()
                .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "expected a user name [a-z_][a-z0-9_-]{0,31}" })
                .default("www-data"),
              workingDirectory: absPath("directory").optional().meta({ description: "Default /srv/<name>." }),
              nodePath: z
                .string()
                .regex(/^(\/[A-Za-z0-9._+@-]+)+$/, { error: "expected an absolute path to the node binary ([A-Za-z0-9._+@-] per segment)" })
                .default("/usr/bin/node"),
            })
            .prefault({}),
          k8s: z
            .strictObject({
              hpa: z
                .strictObject({
                  min: z.int().min(1).max(1000),
                  max: z.int().min(1).max(1000),
                  cpu: z.int().min(1).max(1000).default(70),
                })
                .refine((h) => h.min <= h.max, { path: ["max"], error: "must be >= min" })
                .optional()
                .meta({ description: "A HorizontalPodAutoscaler for the web Deployment (which then has no replicas): min/max replicas, target average CPU in percent of the request (default 70)." }),
            })
            .prefault({}),
        })
        .prefault({}),
    })
    .superRefine((d, ctx) => {
      // The image's node decides, as the runtime does at start: node:20-slim would build, then
      // stop. An image tag `node:<major>-slim` is the newest release of that major, on Linux.
      if ((d.processes.web as { reuse_port?: boolean }).reuse_port && reusePortUnsupported(`${d.node}.99.0`, "linux")) {
        ctx.addIssue({
          code: "custom",
          path: ["processes", "web", "reuse_port"],
          message: `needs Node.js >= 22.12 (SO_REUSEPORT); this description's node is ${d.node}: set node to "22" or later, or turn reuse_port off`,
        });
      }
    });
}

/** The parsed description's type (defaults applied). `processes.web` holds runtime settings. */
export type ParsedDescription = z.output<ReturnType<typeof descriptionSchema>>;
