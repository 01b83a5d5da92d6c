// capture_output: the app's console output goes to the error log file, in the log's format.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { get, killAll, run, waitFor } from "./runtime-support.js";

after(killAll);

const APP = `console.log("imported in " + process.pid);
console.error("warned at import");
export function app(req, res) { console.log("handling " + req.url); res.end("ok"); }
`;

async function serve(dir: string, extra: string[]) {
  const logFile = path.join(dir, `error-${extra.join("")}.log`);
  const s = run(["serve", "app.mjs#app", "-b", "127.0.0.1:0", "--capture-output", "--error-logfile", logFile, ...extra], { cwd: dir });
  const text = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  await waitFor(() => /Listening at: http:\/\/\S+/.test(text()) || s.proc.exitCode !== null, 20000, "Listening at");
  const url = /Listening at: (http:\/\/[^\s"]+)/.exec(text())![1];
  await waitFor(async () => (await get(`${url}/readyz`).catch(() => null))?.status === 200, 20000, "readyz");
  return { s, url, text };
}

describe("capture_output", { timeout: 60000 }, () => {
  test("console output at import and per request lands in the error log file (text and json)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-capture-"));
    fs.writeFileSync(path.join(dir, "app.mjs"), APP);
    const t = await serve(dir, []);
    assert.equal((await get(`${t.url}/first`)).body, "ok");
    await waitFor(() => t.text().includes("handling /first"), 5000, "request line in the log");
    assert.match(t.text(), /\[\d+\] \[INFO\] imported in \d+/);
    assert.match(t.text(), /\[ERROR\] warned at import/);
    assert.match(t.text(), /\[INFO\] handling \/first/);
    assert.doesNotMatch(t.s.stdout() + t.s.stderr(), /imported in|handling/, "nothing on the inherited stdio");
    assert.equal((await t.s.stop()).code, 0);

    const j = await serve(dir, ["--log-format", "json"]);
    await get(`${j.url}/second`);
    await waitFor(() => j.text().includes("handling /second"), 5000, "json request line");
    const lines = j
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const req = lines.find((l) => l.message === "handling /second");
    assert.equal(req?.stream, "stdout");
    assert.equal(req?.role, "worker");
    assert.equal(lines.find((l) => l.message === "warned at import")?.level, "error");
    assert.equal((await j.s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
