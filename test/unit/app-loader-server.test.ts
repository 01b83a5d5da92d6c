// app-loader: an exported http.Server (or a factory returning one) is served through its own
// 'request' listeners, and is never listened on itself.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadExport as loadApp } from "../../runtime/worker/app-loader.js";

test("an http.Server returned by an async factory is served via server.emit('request') and never listened on", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-al-"));
  fs.writeFileSync(
    path.join(dir, "srv.mjs"),
    `import http from "node:http";
export const made = [];
export async function createApp() {
  const s = http.createServer((req, res) => res.end("from server " + req.url));
  made.push(s);
  return s;
}`,
  );
  try {
    const { listener } = await loadApp("srv.mjs#createApp()", dir);
    const front = http.createServer((req, res) => void listener(req, res));
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    const port = (front.address() as { port: number }).port;
    const r = await fetch(`http://127.0.0.1:${port}/x?y=1`);
    assert.equal(await r.text(), "from server /x?y=1");
    front.close();
    const mod = await import(path.join(dir, "srv.mjs"));
    assert.equal(mod.made.length, 1);
    assert.equal(mod.made[0].listening, false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a value that is neither listener, fetch handler nor server names the accepted shapes", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-al-"));
  fs.writeFileSync(path.join(dir, "bad.mjs"), "export const app = { nothing: 1 };");
  try {
    await assert.rejects(loadApp("bad.mjs#app", dir), /or an http\.Server/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
