// Request limits (414/431), worker_connections, forwarded_allow_ips.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { get, killAll, start } from "./runtime-support.js";

after(killAll);

/** Send raw bytes and return the status line of the answer. */
function raw(url: string, text: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => sock.write(text));
    let got = "";
    sock.on("data", (d) => (got += d));
    sock.on("close", () => resolve(got.split("\r\n")[0]));
    sock.on("error", reject);
    sock.setTimeout(5000, () => sock.destroy(new Error("raw request timed out")));
  });
}

describe("runtime request limits", { timeout: 60000 }, () => {
  test("limit_request_line -> 414, limit_request_fields / field size -> 431, within limits -> 200", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "--limit-request-line", "100", "--limit-request-fields", "5", "--limit-request-field-size", "50"]);
    assert.equal((await get(`${s.url}/${"a".repeat(60)}`)).status, 200);
    const long = await get(`${s.url}/${"a".repeat(100)}`);
    assert.equal(long.status, 414);
    assert.match(long.body, /Request Line is too large \(\d+ > 100\)/);
    const many = await get(`${s.url}/`, { headers: { a: "1", b: "2", c: "3", d: "4", e: "5" } }); // + host + connection
    assert.equal(many.status, 431);
    const big = await get(`${s.url}/`, { headers: { "x-big": "v".repeat(60) } });
    assert.equal(big.status, 431);
    assert.match(big.body, /"x-big" is too large/);
    // A header block beyond what the limits allow in total is refused by node's parser: 431 too.
    const huge = await raw(s.url, `GET / HTTP/1.1\r\nHost: x\r\n${"x-h: v\r\n".repeat(2000)}\r\n`);
    assert.equal(huge, "HTTP/1.1 431 Request Header Fields Too Large");
    assert.equal(await raw(s.url, "BLAH\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  });

  test("forwarded_allow_ips: X-Forwarded-* kept from trusted peers, removed from others", async () => {
    const trusted = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "--forwarded-allow-ips", "127.0.0.1,::1"]);
    const h = { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https", forwarded: "for=203.0.113.9", "x-other": "kept" };
    const a = JSON.parse((await get(`${trusted.url}/headers`, { headers: h })).body);
    assert.equal(a.headers["x-forwarded-for"], "203.0.113.9");
    assert.equal(a.headers["x-forwarded-proto"], "https");
    const untrusted = await start(["serve", "node-listener.mjs#app", "-b", "127.0.0.1:0", "--forwarded-allow-ips", "10.0.0.0/8,192.0.2.1"]);
    const b = JSON.parse((await get(`${untrusted.url}/headers`, { headers: h })).body);
    assert.equal(b.headers["x-forwarded-for"], undefined);
    assert.equal(b.headers["x-forwarded-proto"], undefined);
    assert.equal(b.headers.forwarded, undefined);
    assert.equal(b.headers["x-other"], "kept");
    assert.ok(!b.raw.map((x: string) => x.toLowerCase()).includes("x-forwarded-for"), "rawHeaders filtered too");
    assert.equal(b.distinct["x-forwarded-for"], undefined, "headersDistinct filtered too");
    assert.deepEqual(b.distinct["x-other"], ["kept"]);
  });

  test("worker_connections caps simultaneous connections per worker", async () => {
    const s = await start(["serve", "node-listener.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--worker-connections", "2"]);
    const slow = [get(`${s.url}/slow?ms=800`), get(`${s.url}/slow?ms=800`)];
    await new Promise((r) => setTimeout(r, 200));
    const third = await get(`${s.url}/pid`).then(
      (r) => `status ${r.status}`,
      (e: Error) => `refused: ${e.message}`,
    );
    assert.match(third, /^refused/);
    for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
    assert.equal((await get(`${s.url}/readyz`)).status, 200);
  });
});
