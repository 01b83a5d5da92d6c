/**
 * Validation of a raw description object and the JSON Schema derived from the same zod schema.
 */
import { z } from "zod";
import { descriptionSchema, webSettings } from "./schema.js";
import type { Description, DescriptionInput } from "./types.js";

/** One problem: `path` is the dotted field path (`processes.web.workers`), `message` why. */
export interface DescriptionIssue {
  path: string;
  message: string;
}

/**
 * Thrown for an invalid description. `message` lists every issue as `path: message`, one per
 * line, after the file name; `issues` has them structured.
 */
export class DescriptionError extends Error {
  constructor(
    readonly file: string,
    readonly issues: DescriptionIssue[],
  ) {
    super(
      issues.length === 1 && !file
        ? `${issues[0].path}: ${issues[0].message}`
        : `invalid project description${file ? ` in ${file}` : ""}:\n` + issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"),
    );
    this.name = "DescriptionError";
  }
}

function toIssues(error: z.ZodError): DescriptionIssue[] {
  const out: DescriptionIssue[] = [];
  for (const i of error.issues) {
    const base = i.path.map(String);
    if (i.code === "unrecognized_keys") {
      for (const k of i.keys) {
        const where = base.join(".");
        const hint = where === "processes.web" ? "not a runtime setting (see `prodserver serve --help`)" : "unknown field";
        out.push({ path: [...base, k].join("."), message: hint });
      }
      continue;
    }
    out.push({ path: base.join(".") || "(root)", message: i.message });
  }
  return out;
}

let schema: ReturnType<typeof descriptionSchema> | undefined;

/** The description schema, built once per process: building it costs ~35 ms (one refinement per
 *  runtime setting), parsing with it ~0.2 ms, and the settings registry it follows is fixed. */
function cachedSchema(): ReturnType<typeof descriptionSchema> {
  return (schema ??= descriptionSchema());
}

/**
 * Validate `raw` (what a config file exported) and apply defaults.
 * @param raw the object; `file` only labels errors.
 * @returns the Description (defaults applied; `deploy.systemd.workingDirectory` = `/srv/<name>`).
 * @throws DescriptionError naming every invalid field path.
 */
export function validateDescription(raw: unknown, file = ""): Description {
  if (raw && typeof raw === "object" && !Array.isArray(raw) && "$schema" in raw) {
    const { $schema: _ignored, ...rest } = raw as Record<string, unknown>;
    raw = rest;
  }
  const r = cachedSchema().safeParse(raw);
  if (!r.success) throw new DescriptionError(file, toIssues(r.error));
  const d = r.data as unknown as Description;
  // Canonical key order (schema / settings-registry order), so rendering is deterministic.
  const sd = d.deploy.systemd;
  d.deploy.systemd = { user: sd.user, workingDirectory: sd.workingDirectory ?? `/srv/${d.name}`, nodePath: sd.nodePath };
  const order = [...webSettings().map((s) => s.name), "replicas"];
  const web = d.processes.web;
  d.processes.web = Object.fromEntries(order.filter((k) => web[k] !== undefined).map((k) => [k, web[k]]));
  return d;
}

/** Identity with types: `export default defineConfig({ ... })` in prodserver.config.ts. */
export function defineConfig(config: DescriptionInput): DescriptionInput {
  return config;
}

/**
 * The JSON Schema (draft 2020-12) of the description *input* (defaults make fields optional).
 * Shipped as `templates/prodserver.schema.json` in the package (a unit test keeps it current); JSON
 * configs may reference it with `"$schema"`.
 */
export function descriptionJsonSchema(): Record<string, unknown> {
  const base = z.object({ $schema: z.string().optional() });
  const schema = descriptionSchema().extend(base.shape);
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
