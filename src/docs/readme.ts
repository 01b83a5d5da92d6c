/**
 * The README's generated sections. The settings table is derived from the runtime's settings
 * registry (runtime/settings.ts), as Gunicorn's `build_settings_doc.py` derives its settings page
 * from `config.py`; the example deploy files are rendered from examples/express-app.
 * `node dist/src/docs/readme.js --write` rewrites README.md between the markers; the unit test
 * `readme-settings` fails when the committed README is stale.
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { SETTINGS, type Setting } from "../../runtime/settings.js";
import { detectProject } from "../description/index.js";
import { NODE_SCHEDULE_DATE } from "../description/node-versions.js";
import { renderFiles } from "../generate/index.js";
import { isMain } from "../cli/output.js";

/** The README next to the package root (dist/src/docs → ../../../README.md). */
export const README = fileURLToPath(new URL("../../../README.md", import.meta.url));

const BEGIN = "<!-- settings:begin (generated from runtime/settings.ts by `npm run docs`; do not edit) -->";
const END = "<!-- settings:end -->";
const EX_BEGIN = "<!-- examples:begin (generated from examples/express-app by `npm run docs`; do not edit) -->";
const EX_END = "<!-- examples:end -->";

/** The example app whose generated files the README shows. */
export const EXAMPLE_APP = fileURLToPath(new URL("../../../examples/express-app/", import.meta.url));

const FENCE: Record<string, string> = { Dockerfile: "dockerfile", ".conf": "nginx", ".service": "ini", ".socket": "ini", ".yaml": "yaml", ".dockerignore": "" };

/**
 * Every generated file for examples/express-app, as `create-prodserver --yes` and
 * `prodserver generate all` write them, each in a fenced block under its path.
 */
export async function renderExamples(): Promise<string> {
  // The Node line as of the schedule table's date, so the README does not change with the calendar.
  const { description } = await detectProject(EXAMPLE_APP, new Date(NODE_SCHEDULE_DATE));
  const files = renderFiles(description, { targets: ["all"] });
  const out = [`For \`examples/express-app\` (\`create-prodserver --yes\`, then \`prodserver generate k8s\`):`, ""];
  for (const f of files) {
    const lang = Object.entries(FENCE).find(([k]) => f.path.endsWith(k))?.[1] ?? "";
    out.push(`<details><summary><code>${f.path}</code></summary>`, "", "```" + lang, f.content.trimEnd(), "```", "", "</details>", "");
  }
  return out.join("\n");
}

/**
 * Return `readme` with the examples section replaced by {@link renderExamples}.
 * @throws Error when the markers are missing.
 */
export async function withExamples(readme: string): Promise<string> {
  const a = readme.indexOf(EX_BEGIN);
  const b = readme.indexOf(EX_END);
  if (a === -1 || b === -1 || b < a) throw new Error(`README.md lacks the examples markers ${EX_BEGIN} … ${EX_END}`);
  return readme.slice(0, a + EX_BEGIN.length) + "\n\n" + (await renderExamples()) + "\n" + readme.slice(b);
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function defaultText(s: Setting): string {
  if (s.defaultDoc) return s.defaultDoc;
  const d = s.default;
  if (d === null || d === undefined) return "unset";
  return "`" + (Array.isArray(d) ? d.join(",") : String(d)) + "`";
}

function flagText(s: Setting): string {
  const flags = [...(s.short ? [`-${s.short}`] : []), ...s.flags];
  return flags.map((f) => "`" + f + "`").join(", ");
}

/** The settings table as Markdown: one table per section, in registry order. */
export function renderSettingsTable(): string {
  const sections = new Map<string, Setting[]>();
  for (const s of SETTINGS as readonly Setting[]) {
    if (!sections.has(s.section)) sections.set(s.section, []);
    sections.get(s.section)!.push(s);
  }
  const out: string[] = [];
  for (const [section, list] of sections) {
    out.push(`#### ${section}`, "", "| setting | flags | env | default | unit | what it does | Gunicorn |", "|---|---|---|---|---|---|---|");
    for (const s of list) {
      const choices = s.choices ? ` One of ${s.choices.map((c) => "`" + c + "`").join(", ")}.` : "";
      out.push(
        `| \`${s.name}\` | ${flagText(s)} | ${(s.env ?? []).map((e) => "`" + e + "`").join(", ")} | ${cell(defaultText(s))} | ${s.unit ?? ""} | ${cell(s.doc + choices)} | ${s.gunicorn ? "`" + s.gunicorn + "`" : "—"} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/**
 * Return `readme` with the text between the settings markers replaced by the current table.
 * @throws Error when the markers are missing.
 */
export function withSettingsTable(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a === -1 || b === -1 || b < a) throw new Error(`README.md lacks the settings markers ${BEGIN} … ${END}`);
  return readme.slice(0, a + BEGIN.length) + "\n\n" + renderSettingsTable() + "\n" + readme.slice(b);
}

if (isMain(import.meta.url)) {
  const current = fs.readFileSync(README, "utf8");
  const next = await withExamples(withSettingsTable(current));
  if (process.argv.includes("--write")) {
    if (next !== current) fs.writeFileSync(README, next);
    console.log(next === current ? "README.md generated sections are current" : "README.md generated sections rewritten");
  } else if (next !== current) {
    console.error("README.md generated sections are stale: run `npm run docs`");
    process.exit(1);
  }
}
