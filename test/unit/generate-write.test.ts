// writeFiles statuses (create/identical/update/conflict/force) and checkFiles unified diffs.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles, writeFiles, checkFiles, GENERATED_STATE } from "../../src/generate/index.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-write-"));
const d = (port = 3000) => validateDescription({ name: "app", app: "x.js", port });
const status = (rs: { path: string; status: string }[], p: string) => rs.find((r) => r.path === p)?.status;

test("create, then identical, then update when the description changes", () => {
  const dir = tmp();
  const first = writeFiles(dir, renderFiles(d()));
  assert.ok(
    first.every((r) => r.status === "create"),
    JSON.stringify(first),
  );
  assert.ok(fs.existsSync(path.join(dir, "deploy/nginx/app.conf")));
  assert.ok(fs.existsSync(path.join(dir, GENERATED_STATE)));
  const again = writeFiles(dir, renderFiles(d()));
  assert.ok(again.every((r) => r.status === "identical"));
  const moved = writeFiles(dir, renderFiles(d(4000)));
  assert.equal(status(moved, "Dockerfile"), "update");
  assert.equal(status(moved, ".dockerignore"), "identical");
  assert.match(fs.readFileSync(path.join(dir, "Dockerfile"), "utf8"), /EXPOSE 4000/);
});

test("an edit on lines the generator also changes is a conflict (not overwritten) unless force", () => {
  const dir = tmp();
  writeFiles(dir, renderFiles(d()));
  const file = path.join(dir, "Dockerfile");
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("EXPOSE 3000", "EXPOSE 3000 3001"));
  const r = writeFiles(dir, renderFiles(d(4000)));
  const c = r.find((x) => x.path === "Dockerfile")!;
  assert.equal(c.status, "conflict");
  assert.match(c.message!, /^Dockerfile not overwritten: .*same lines \(1 conflicting region\).*prodserver generate --check/);
  assert.match(fs.readFileSync(file, "utf8"), /EXPOSE 3000 3001/, "not overwritten");
  const f = writeFiles(dir, renderFiles(d(4000)), { force: true });
  assert.equal(status(f, "Dockerfile"), "force");
  assert.doesNotMatch(fs.readFileSync(file, "utf8"), /3001/);
  assert.equal(status(writeFiles(dir, renderFiles(d(5000))), "Dockerfile"), "update", "after force the file is ours again");
});

test("an edit elsewhere is three-way merged with the regenerated file, again and again", () => {
  const dir = tmp();
  writeFiles(dir, renderFiles(d()));
  const file = path.join(dir, "Dockerfile");
  const edited = fs.readFileSync(file, "utf8").replace("WORKDIR /app\n", "WORKDIR /app\nLABEL team=payments\n");
  fs.writeFileSync(file, edited);
  const r = writeFiles(dir, renderFiles(d(4000))).find((x) => x.path === "Dockerfile")!;
  assert.equal(r.status, "merge");
  assert.match(r.message!, /edits were kept/);
  let text = fs.readFileSync(file, "utf8");
  assert.match(text, /LABEL team=payments/);
  assert.match(text, /^EXPOSE 4000$/m);
  assert.doesNotMatch(text, /<<<<<<<|>>>>>>>/);
  // The base is now the 4000 render: the next change merges against it.
  assert.equal(status(writeFiles(dir, renderFiles(d(5000))), "Dockerfile"), "merge");
  text = fs.readFileSync(file, "utf8");
  assert.match(text, /LABEL team=payments/);
  assert.match(text, /^EXPOSE 5000$/m);
  assert.equal(status(writeFiles(dir, renderFiles(d(5000))), "Dockerfile"), "kept", "edited by hand, nothing new to merge");
  // merge: false restores the strict behaviour.
  assert.equal(status(writeFiles(dir, renderFiles(d(6000)), { merge: false }), "Dockerfile"), "conflict");
});

test("a pre-existing file we did not generate is a conflict", () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch\n");
  assert.equal(status(writeFiles(dir, renderFiles(d())), "Dockerfile"), "conflict");
});

test("checkFiles: missing and stale files, as unified diffs from disk to what generate writes", () => {
  const dir = tmp();
  const files = renderFiles(d());
  writeFiles(dir, files);
  assert.ok(checkFiles(dir, files).every((x) => x.status === "identical" && x.diff === "" && !x.stale));
  fs.rmSync(path.join(dir, ".dockerignore"));
  const drift = checkFiles(dir, renderFiles(d(4000)));
  const df = drift.find((x) => x.path === "Dockerfile")!;
  assert.equal(df.status, "stale");
  assert.match(df.diff, /^--- a\/Dockerfile\ton disk/m);
  assert.match(df.diff, /^-EXPOSE 3000$/m);
  assert.match(df.diff, /^\+EXPOSE 4000$/m);
  assert.deepEqual({ ...drift.find((x) => x.path === ".dockerignore")!, diff: "" }, { path: ".dockerignore", status: "missing", stale: true, conflict: false, diff: "" });
});

test("paths outside the app folder are refused", () => {
  assert.throws(() => writeFiles(tmp(), [{ path: "../evil", content: "" }]), /outside/);
});

test("checkFiles: a hand edit is `edited` with its diff, whether or not the description changed too", () => {
  const dir = tmp();
  writeFiles(dir, renderFiles(d()));
  const file = path.join(dir, "Dockerfile");
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("WORKDIR /app\n", "WORKDIR /app\nLABEL team=payments\n"));
  const same = checkFiles(dir, renderFiles(d())).find((x) => x.path === "Dockerfile")!;
  assert.deepEqual([same.status, same.stale, same.conflict], ["edited", false, false]);
  assert.match(same.diff, /^--- a\/Dockerfile\tgenerated\n\+\+\+ b\/Dockerfile\ton disk$/m);
  assert.match(same.diff, /^\+LABEL team=payments$/m, "the diff shows the hand edit");
  // The description moves the port too: still edited (kept), and stale; the second diff is the merge.
  const moved = checkFiles(dir, renderFiles(d(4000))).find((x) => x.path === "Dockerfile")!;
  assert.deepEqual([moved.status, moved.stale, moved.conflict], ["edited", true, false]);
  assert.match(moved.diff, /^\+EXPOSE 4000$/m);
  assert.doesNotMatch(moved.diff, /^-LABEL team=payments$/m, "the merge keeps the user's line");
  // An edit on the line the description changes: a conflict.
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("EXPOSE 3000", "EXPOSE 3001"));
  const clash = checkFiles(dir, renderFiles(d(4000))).find((x) => x.path === "Dockerfile")!;
  assert.deepEqual([clash.status, clash.stale, clash.conflict], ["edited", true, true]);
  // A file prodserver never wrote is edited, never identical, and the whole generated text is the diff.
  const other = tmp();
  fs.writeFileSync(path.join(other, "Dockerfile"), "FROM scratch\n");
  const foreign = checkFiles(other, renderFiles(d())).find((x) => x.path === "Dockerfile")!;
  assert.deepEqual([foreign.status, foreign.stale, foreign.conflict], ["edited", true, true]);
  assert.match(foreign.diff, /^-FROM scratch$/m);
});
