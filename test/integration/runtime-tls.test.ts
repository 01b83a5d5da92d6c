// certfile/keyfile: workers serve HTTPS with the same request handling (health endpoints, app).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { APPS, killAll, run, waitFor, withTimeout } from "./runtime-support.js";

after(killAll);

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, servername: "localhost", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body, protocol: (res.socket as import("node:tls").TLSSocket).getProtocol?.() ?? "" }));
    });
    req.setTimeout(10000, () => req.destroy(new Error(`timeout ${url}`)));
    req.on("error", reject);
  });
}

describe("certfile and keyfile", { timeout: 60000 }, () => {
  test("with both set the workers serve HTTPS; the certificate verifies against itself", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-tls-"));
    const cert = path.join(dir, "cert.pem");
    const key = path.join(dir, "key.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
      { stdio: "ignore" },
    );
    const s = run(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "-w", "2", "--certfile", cert, "--keyfile", key]);
    await waitFor(() => /Listening at: https:\/\/\S+/.test(s.stderr()) || s.proc.exitCode !== null, 20000, "Listening at https");
    const url = /Listening at: (https:\/\/\S+)/.exec(s.stderr())![1];
    const ca = fs.readFileSync(cert);
    await waitFor(async () => (await httpsGet(`${url}/readyz`, ca).catch(() => null))?.status === 200, 20000, "readyz over https");
    const r = await httpsGet(`${url}/pid`, ca);
    assert.equal(r.status, 200);
    assert.match(r.body, /^\d+$/);
    assert.match(r.protocol, /^TLSv1\.[23]$/);
    assert.equal((await s.stop()).code, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("one of certfile/keyfile without the other is an error naming the missing one", async () => {
    const onlyCert = run(["serve", path.join(APPS, "node-listener.mjs") + "#app", "--certfile", "/nonexistent/cert.pem"]);
    assert.equal((await withTimeout(onlyCert.exited, 10000, "exit")).code, 1);
    assert.match(onlyCert.stderr(), /keyfile \(from [^)]+\): certfile is set but keyfile is not/);
    const onlyKey = run(["serve", path.join(APPS, "node-listener.mjs") + "#app", "--keyfile", "/nonexistent/key.pem"]);
    assert.equal((await withTimeout(onlyKey.exited, 10000, "exit")).code, 1);
    assert.match(onlyKey.stderr(), /certfile \(from [^)]+\): keyfile is set but certfile is not/);
  });
});
