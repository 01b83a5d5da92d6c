// Three-way merge of user edits with regenerated files: real generated text (the k8s manifest),
// git-style markers, and `git merge-file` as the reference on many small cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { validateDescription, type DescriptionInput } from "../../src/description/index.js";
import { renderK8sManifests } from "../../src/generate/index.js";
import { mergeThreeWay, MERGE_LABELS } from "../../src/generate/merge.js";

const desc: DescriptionInput = { name: "express-hello", version: "1.0.0", app: "src/app.js#app", processes: { web: { workers: 2 } } };
const manifest = (over: Partial<DescriptionInput> = {}) => renderK8sManifests(validateDescription({ ...desc, ...over }))[0].content;
const replaceOnce = (s: string, from: string, to: string) => {
  assert.equal(s.split(from).length, 2, `exactly one ${JSON.stringify(from)}`);
  return s.replace(from, to);
};
const deployment = (yaml: string) => {
  const docs = parseAllDocuments(yaml);
  for (const d of docs) assert.deepEqual(d.errors, []);
  return docs[0].toJS() as Record<string, any>;
};
const markers = (text: string) => text.split("\n").filter((l) => /^(<{7}|={7}|>{7})( |$)/.test(l));

test("merge: base == ours → theirs; theirs == base → ours; all equal → unchanged", () => {
  const base = manifest();
  const theirs = manifest({ port: 8080 });
  assert.deepEqual(mergeThreeWay(base, base, theirs), { text: theirs, conflicts: 0 });
  const ours = replaceOnce(base, 'image: "express-hello:1.0.0"', 'image: "registry.example/express-hello:1.0.0"');
  assert.deepEqual(mergeThreeWay(base, ours, base), { text: ours, conflicts: 0 });
  assert.deepEqual(mergeThreeWay(base, base, base), { text: base, conflicts: 0 });
});

test("merge: the user's edit in one region and the generator's change in another are both kept, 0 conflicts", () => {
  const base = manifest();
  // The user points the image at a registry and raises the memory limit.
  let ours = replaceOnce(base, 'image: "express-hello:1.0.0"', 'image: "registry.example/team/express-hello:1.0.0"');
  ours = replaceOnce(ours, 'memory: "768Mi"', 'memory: "1Gi"');
  // The description's graceful_timeout changes: terminationGracePeriodSeconds (and its comment) move.
  const theirs = manifest({ processes: { web: { workers: 2, graceful_timeout: 60 } } });
  assert.notEqual(theirs, base);
  const { text, conflicts } = mergeThreeWay(base, ours, theirs);
  assert.equal(conflicts, 0, text);
  assert.deepEqual(markers(text), []);
  const d = deployment(text);
  const spec = d.spec.template.spec;
  assert.equal(spec.containers[0].image, "registry.example/team/express-hello:1.0.0", "user's edit kept");
  assert.equal(spec.containers[0].resources.limits.memory, "1Gi", "user's second edit kept");
  assert.equal(spec.terminationGracePeriodSeconds, 70, "generator's change applied");
  assert.ok(text.includes("graceful_timeout (60 s)"));
});

test("merge: both sides changed the same region → one conflict with git-style markers", () => {
  const base = manifest();
  const ours = replaceOnce(base, "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 100");
  const theirs = manifest({ processes: { web: { workers: 2, graceful_timeout: 60 } } });
  const { text, conflicts } = mergeThreeWay(base, ours, theirs);
  assert.equal(conflicts, 1);
  assert.deepEqual(markers(text), [`<<<<<<< ${MERGE_LABELS.ours}`, "=======", `>>>>>>> ${MERGE_LABELS.theirs}`]);
  assert.deepEqual(MERGE_LABELS, { ours: "your edits", theirs: "generated" });
  const block = text.slice(text.indexOf("<<<<<<<"), text.indexOf(">>>>>>>"));
  const [mine, gen] = block.split("=======\n");
  assert.match(mine, /terminationGracePeriodSeconds: 100\n/);
  assert.match(gen, /terminationGracePeriodSeconds: 70\n/);
  assert.ok(!mine.includes("70") && !gen.includes(": 100"), "each side holds only its own version");
  // Outside the block the file is the (unchanged) rest of both.
  assert.equal(text.replace(/<<<<<<<[\s\S]*?>>>>>>> generated\n/, ""), base.replace(/ {6}# preStop[^\n]*\n {6}terminationGracePeriodSeconds: 40\n/, ""));
});

test("merge: identical edits on both sides are not a conflict; two separate clashes count 2", () => {
  const base = manifest();
  const theirs = manifest({ port: 8080 });
  // The user made the generator's change by hand, and also edited something else.
  const ours = replaceOnce(theirs, 'memory: "768Mi"', 'memory: "2Gi"');
  const r = mergeThreeWay(base, ours, theirs);
  assert.deepEqual(r, { text: ours, conflicts: 0 });
  const b = "a\nb\nc\nd\ne\nf\ng\n";
  const two = mergeThreeWay(b, "a\nB1\nc\nd\ne\nF1\ng\n", "a\nB2\nc\nd\ne\nF2\ng\n");
  assert.equal(two.conflicts, 2);
  assert.equal(markers(two.text).length, 6);
  assert.equal(two.text, "a\n<<<<<<< your edits\nB1\n=======\nB2\n>>>>>>> generated\nc\nd\ne\n<<<<<<< your edits\nF1\n=======\nF2\n>>>>>>> generated\ng\n");
});

test("merge: lines both sides agree on stay outside the conflict block (as git's zealous merge)", () => {
  const r = mergeThreeWay("1\n2\n3\n4\n5\n", "1\nX\nQ\nZ\n5\n", "1\nX\nR\nZ\n5\n");
  assert.deepEqual(r, { text: "1\nX\n<<<<<<< your edits\nQ\n=======\nR\n>>>>>>> generated\nZ\n5\n", conflicts: 1 });
});

test("merge: a last line without a newline still gets markers on lines of their own", () => {
  const r = mergeThreeWay("a\nb", "a\nmine", "a\ngen");
  assert.equal(r.conflicts, 1);
  assert.equal(r.text, "a\n<<<<<<< your edits\nmine\n=======\ngen\n>>>>>>> generated\n");
  assert.deepEqual(mergeThreeWay("a\nm\nb", "a\nm\nb\n", "x\nm\nb"), { text: "x\nm\nb\n", conflicts: 0 }, "the user's added final newline is an edit too");
});

test("merge: an editor that converted the file to CRLF is not a conflict; the result keeps CRLF", () => {
  const base = "one\ntwo\nthree\nfour\nfive\n";
  const ours = "ONE\r\ntwo\r\nthree\r\nfour\r\nfive\r\n";
  const theirs = "one\ntwo\nthree\nfour\nFIVE\n";
  assert.deepEqual(mergeThreeWay(base, ours, theirs), { text: "ONE\r\ntwo\r\nthree\r\nfour\r\nFIVE\r\n", conflicts: 0 });
  const c = mergeThreeWay(base, "one\r\ntwo\r\nmine\r\nfour\r\nfive\r\n", "one\ntwo\ngen\nfour\nfive\n");
  assert.equal(c.text, "one\r\ntwo\r\n<<<<<<< your edits\r\nmine\r\n=======\r\ngen\r\n>>>>>>> generated\r\nfour\r\nfive\r\n");
});

test("merge: custom labels; bad arguments are TypeErrors naming the argument", () => {
  const r = mergeThreeWay("a\n", "b\n", "c\n", { labels: { ours: "deploy/k8s/x.yaml (on disk)", theirs: "prodserver.config.ts" } });
  assert.deepEqual(markers(r.text), ["<<<<<<< deploy/k8s/x.yaml (on disk)", "=======", ">>>>>>> prodserver.config.ts"]);
  assert.throws(() => mergeThreeWay("a", null as unknown as string, "b"), /^TypeError: mergeThreeWay: ours must be a string \(got null\)/);
  assert.throws(() => mergeThreeWay(undefined as unknown as string, "a", "b"), /base must be a string/);
  assert.throws(() => mergeThreeWay("a", "b", "c", { labels: { theirs: "x\ny" } }), /labels\.theirs must be a one-line string/);
});

test("merge agrees with `git merge-file` on 300 generated cases (clean text identical, conflicts where git has them)", (t) => {
  if (spawnSync("git", ["--version"]).status !== 0) return t.skip("git is not installed");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-merge-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const git = (base: string, ours: string, theirs: string) => {
    fs.writeFileSync(path.join(dir, "o"), ours);
    fs.writeFileSync(path.join(dir, "b"), base);
    fs.writeFileSync(path.join(dir, "t"), theirs);
    const r = spawnSync("git", ["merge-file", "-p", "-L", "your edits", "-L", "base", "-L", "generated", "o", "b", "t"], { cwd: dir, encoding: "utf8" });
    assert.ok(r.status !== null && r.status >= 0 && r.status < 128, r.stderr);
    return { text: r.stdout, conflicts: r.status! };
  };
  let seed = 7; // deterministic LCG, so a failure reproduces
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const mutate = (ls: string[]) => {
    ls = [...ls];
    for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
      const at = Math.floor(rnd() * ls.length);
      const op = rnd();
      if (op < 0.4) ls[at] = `m${Math.floor(rnd() * 3)}`;
      else if (op < 0.7) ls.splice(at, 0, `l${Math.floor(rnd() * 8)}`);
      else ls.splice(at, 1);
    }
    return ls;
  };
  const join = (ls: string[]) => ls.map((l) => `${l}\n`).join("");
  let clean = 0;
  let conflicted = 0;
  for (let i = 0; i < 300; i++) {
    // Repeated lines (l0..l7) make the alignment ambiguous, as blank lines and `---` do in real files.
    const b = Array.from({ length: 5 + Math.floor(rnd() * 30) }, (_, j) => `l${j % 8}`);
    const [base, ours, theirs] = [join(b), join(mutate(b)), join(mutate(b))];
    const m = mergeThreeWay(base, ours, theirs);
    const g = git(base, ours, theirs);
    const why = JSON.stringify({ base, ours, theirs });
    if (g.conflicts === 0) {
      clean++;
      assert.deepEqual(m, { text: g.text, conflicts: 0 }, why);
    } else {
      conflicted++;
      assert.ok(m.conflicts >= 1, why);
      assert.equal(markers(m.text).length, 3 * m.conflicts, why);
    }
  }
  assert.ok(clean > 50 && conflicted > 50, `both kinds exercised (${clean} clean, ${conflicted} conflicted)`);
});
