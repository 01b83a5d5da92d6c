// The generated nginx include passes the real `nginx -t` (nginx 1.22 on this machine).
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";
import { nginxTest } from "../support/nginx.js";

const conf = (raw: object) => renderFiles(validateDescription(raw), { targets: ["nginx"] })[0].content;

test("nginx -t accepts the generated include (defaults)", () => {
  const r = nginxTest([conf({ name: "express-hello", app: "app.js" })]);
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, "", "no warnings either");
});

test("nginx -t accepts two apps side by side (distinct map variables and upstreams)", () => {
  const r = nginxTest([
    conf({ name: "a.b", app: "app.js", port: 3001, deploy: { nginx: { serverName: "a.example.com www.a.example.com", listen: 8080, clientMaxBodySize: "1g" } } }),
    conf({ name: "a-b", app: "app.js", port: 3002, processes: { web: { keepalive: 1.5 } }, deploy: { nginx: { serverName: "*.b.example.com" } } }),
  ]);
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, "");
});

test("keepalive 0 (runtime keep-alive off) drops the upstream keepalive; nginx -t still passes", () => {
  const c = conf({ name: "nokeep", app: "app.js", processes: { web: { keepalive: 0 } } });
  assert.ok(!c.includes("keepalive 32"));
  const r = nginxTest([c]);
  assert.equal(r.status, 0, r.output);
});

test("the check can fail: a broken include is rejected by nginx -t", () => {
  const r = nginxTest([conf({ name: "x", app: "app.js" }).replace("keepalive 32;", "keepalive 32")]);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /emerg/);
});

test("upstream, map and proxy headers are what the runtime needs", () => {
  const c = conf({ name: "express-hello", app: "app.js", port: 3005 });
  assert.match(c, /map \$http_upgrade \$prodserver_express_hello_connection \{\n\s+default upgrade;\n\s+""\s+"";\n\}/);
  assert.match(c, /upstream express-hello \{\n(?:\s*#.*\n)?\s+server 127\.0\.0\.1:3005 fail_timeout=0;/);
  assert.match(c, /keepalive 32;/);
  assert.match(c, /keepalive_timeout 4s;/, "below the runtime's default keepalive of 5 s");
  for (const h of ["Host $host", "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme", "X-Forwarded-Host $host"]) {
    assert.ok(c.includes(`proxy_set_header ${h};`), h);
  }
  assert.ok(c.includes("proxy_http_version 1.1;"));
});
