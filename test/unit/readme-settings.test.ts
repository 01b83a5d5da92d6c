import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { README, renderSettingsTable, withSettingsTable, withExamples } from "../../src/docs/readme.js";
import { SETTINGS } from "../../runtime/settings.js";

test("README settings table is the one generated from the registry (run `npm run docs` when this fails)", () => {
  const readme = fs.readFileSync(README, "utf8");
  assert.equal(withSettingsTable(readme), readme);
});

test("the settings table has a row for every setting, with its flag", () => {
  const table = renderSettingsTable();
  for (const s of SETTINGS) {
    assert.match(table, new RegExp("\\| `" + s.name + "` \\|.*`" + s.flags[0] + "`"), s.name);
  }
});

test("a README without the markers is an error, not a silent no-op", () => {
  assert.throws(() => withSettingsTable("# no markers"), /settings markers/);
});

test("README example deploy files are the ones generated from examples/express-app (run `npm run docs` when this fails)", async () => {
  const readme = fs.readFileSync(README, "utf8");
  assert.equal(await withExamples(readme), readme);
  for (const f of [
    "Dockerfile",
    ".dockerignore",
    "deploy/nginx/express-hello.conf",
    "deploy/systemd/express-hello.service",
    "deploy/systemd/express-hello.socket",
    "compose.yaml",
    "deploy/k8s/express-hello.yaml",
  ]) {
    assert.ok(readme.includes(`<code>${f}</code>`), f);
  }
});
