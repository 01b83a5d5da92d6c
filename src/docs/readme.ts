/**
 * The README's generated sections. The settings table is derived from the runtime's settings
 * registry (runtime/settings.ts), as Gunicorn's `build_settings_doc.py` derives its settings page
 * from `config.py`. `node dist/src/docs/readme.js --write` rewrites README.md between the markers;
 * the unit test `readme-settings` fails when the committed README is stale.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SETTINGS, type Setting } from "../../runtime/settings.js";

/** The README next to the package root (dist/src/docs → ../../../README.md). */
export const README = fileURLToPath(new URL("../../../README.md", import.meta.url));

const BEGIN = "<!-- settings:begin (generated from runtime/settings.ts by `npm run docs`; do not edit) -->";
const END = "<!-- settings:end -->";

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

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const current = fs.readFileSync(README, "utf8");
  const next = withSettingsTable(current);
  if (process.argv.includes("--write")) {
    if (next !== current) fs.writeFileSync(README, next);
    console.log(next === current ? "README.md settings table is current" : "README.md settings table rewritten");
  } else if (next !== current) {
    console.error("README.md settings table is stale: run `npm run docs`");
    process.exit(1);
  }
}
