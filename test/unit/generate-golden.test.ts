// Golden files (as fly-apps/dockerfile-node's test/frameworks): detect a fixture project, render the
// default targets, compare with test/fixtures/projects/<name>/expected/. Any template change shows up
// here as a reviewable diff; refresh with UPDATE_GOLDEN=1 after checking it.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { detectProject } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/projects/", import.meta.url));

for (const name of ["js-cjs-npm", "ts-esm-pnpm"]) {
  test(`golden files for ${name}`, async () => {
    // Detection reads the Node release schedule at a fixed date, so the files do not change with the calendar.
    const { description } = await detectProject(path.join(FIXTURES, name), new Date("2026-12-07"));
    const files = renderFiles(description);
    const expected = path.join(FIXTURES, name, "expected");
    for (const f of files) {
      const file = path.join(expected, f.path);
      if (process.env.UPDATE_GOLDEN === "1") {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, f.content);
      }
      assert.ok(fs.existsSync(file), `${file} missing: run with UPDATE_GOLDEN=1`);
      assert.equal(f.content, fs.readFileSync(file, "utf8"), `${name}/${f.path} differs from the golden file (UPDATE_GOLDEN=1 to accept)`);
    }
  });
}
