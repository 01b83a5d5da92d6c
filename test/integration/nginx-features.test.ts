// deploy.nginx upstreams / balance / static / tls / rateLimit: every variant passes the real
// `nginx -t` (nginx 1.22 here), and the generated directives are the ones asked for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateDescription } from "../../src/description/index.js";
import { renderFiles } from "../../src/generate/index.js";
import { nginxTest, selfSigned } from "../support/nginx.js";

const conf = (nginx: object) => renderFiles(validateDescription({ name: "feat.app", app: "app.js", port: 3007, deploy: { nginx } }), { targets: ["nginx"] })[0].content;

function passes(c: string): void {
  const r = nginxTest([c]);
  assert.equal(r.status, 0, r.output + "\n" + c);
  assert.equal(r.output, "", "no warnings either");
}

test("nginx -t: several TCP upstreams, round robin", () => {
  const c = conf({ upstreams: ["127.0.0.1:3001", "10.0.0.2:3001", "[::1]:3002"] });
  assert.match(c, /server 127\.0\.0\.1:3001 fail_timeout=0;\n\s+server 10\.0\.0\.2:3001 fail_timeout=0;\n\s+server "\[::1\]:3002" fail_timeout=0;/, "[ ] need nginx quoting");
  assert.ok(!c.includes("127.0.0.1:3007"), "the default upstream is replaced");
  assert.ok(!c.includes("least_conn"));
  passes(c);
});

test("nginx -t: a unix-socket upstream", () => {
  const c = conf({ upstreams: ["unix:/run/feat/app.sock"] });
  assert.match(c, /server unix:\/run\/feat\/app\.sock fail_timeout=0;/);
  passes(c);
});

test("nginx -t: least_conn", () => {
  const c = conf({ balance: "least_conn", upstreams: ["127.0.0.1:3001", "127.0.0.1:3002"] });
  assert.match(c, /upstream feat\.app \{\n\s+least_conn;/);
  passes(c);
});

test("nginx -t: static locations with expires and access_log off", () => {
  const c = conf({
    static: [
      { location: "/static/", root: "/srv/feat/public" },
      { location: "/assets/img/", root: "/srv/feat/public" },
    ],
  });
  assert.match(c, /location \/static\/ \{\n\s+root \/srv\/feat\/public;\n\s+expires 7d;\n\s+access_log off;/);
  assert.match(c, /location \/assets\/img\/ \{/);
  passes(c);
});

test("nginx -t: TLS server (self-signed cert) + HTTP→HTTPS 301 + HSTS", () => {
  const c = conf({ tls: { ...selfSigned(), hsts: true } });
  assert.match(c, /listen 80 default_server;\n\s+listen \[::\]:80 default_server;\n\s+server_name _;/);
  assert.match(c, /location \/ \{\n\s+return 301 https:\/\/\$host\$request_uri;/);
  assert.match(c, /listen 443 ssl http2 default_server;\n\s+listen \[::\]:443 ssl http2 default_server;/);
  assert.match(c, /add_header Strict-Transport-Security "max-age=31536000" always;/);
  passes(c);
  const noHsts = conf({ tls: { ...selfSigned(), listen: 8443 } });
  assert.ok(!noHsts.includes("Strict-Transport-Security"));
  assert.match(noHsts, /return 301 https:\/\/\$host:8443\$request_uri;/);
  passes(noHsts);
});

test("nginx -t: rate limit (zone at http level, limit_req + 429 in the proxied location)", () => {
  const c = conf({ rateLimit: { rate: "10r/s", burst: 20 } });
  assert.match(c, /^limit_req_zone \$binary_remote_addr zone=prodserver_feat_app_req:10m rate=10r\/s;$/m);
  assert.match(c, /limit_req zone=prodserver_feat_app_req burst=20 nodelay;\n\s+limit_req_status 429;/);
  passes(c);
  const noBurst = conf({ rateLimit: { rate: "600r/m" } });
  assert.match(noBurst, /limit_req zone=prodserver_feat_app_req;/);
  passes(noBurst);
});

test("nginx -t: everything together, and X-Request-Id is always passed", () => {
  const c = conf({
    upstreams: ["127.0.0.1:3001", "unix:/run/feat/app.sock"],
    balance: "least_conn",
    static: [{ location: "/static/", root: "/srv/feat/public" }],
    tls: { ...selfSigned(), hsts: true },
    rateLimit: { rate: "5r/s", burst: 10 },
  });
  assert.ok(c.includes("proxy_set_header X-Request-Id $request_id;"));
  passes(c);
  assert.ok(conf({}).includes("proxy_set_header X-Request-Id $request_id;"));
});

test("the check can fail: nginx -t rejects a TLS server whose certificate file is missing", () => {
  const r = nginxTest([conf({ tls: { certificate: "/nonexistent/cert.pem", certificateKey: "/nonexistent/key.pem" } })]);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /emerg/);
});

test("bad deploy.nginx fields: each error names the field", () => {
  const bad = (nginx: object, re: RegExp) => assert.throws(() => conf(nginx), re);
  bad({ upstreams: ["localhost"] }, /deploy\.nginx\.upstreams\.0: expected host:port/);
  bad({ upstreams: ["unix:relative.sock"] }, /deploy\.nginx\.upstreams\.0/);
  bad({ upstreams: [] }, /deploy\.nginx\.upstreams/);
  bad({ balance: "ip_hash" }, /deploy\.nginx\.balance/);
  bad({ static: [{ location: "/s/", root: "public" }] }, /deploy\.nginx\.static\.0\.root: expected an absolute/);
  bad({ static: [{ location: "/s/;x", root: "/srv" }] }, /deploy\.nginx\.static\.0\.location/);
  bad({ tls: { certificate: "/c.pem" } }, /deploy\.nginx\.tls\.certificateKey/);
  bad({ rateLimit: { rate: "10/s" } }, /deploy\.nginx\.rateLimit\.rate: expected a rate/);
  bad({ rateLimit: { rate: "10r/s", burst: -1 } }, /deploy\.nginx\.rateLimit\.burst/);
  // Valid for the schema but not writable literally: the escaping helper refuses it, naming the field.
  bad({ static: [{ location: "/s/", root: "/srv/$x" }] }, /deploy\.nginx\.static\[0\]\.root: cannot be written into an nginx value/);
});
