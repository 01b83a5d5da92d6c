// The raw-request corpus (test/fixtures/requests/corpus.mjs): each case is written to its own
// connection to a real worker, and the responses that come back (statuses, in order; nothing after
// an error status, and the connection closed) are the verdict. The echo app tells what it saw.
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import url from "node:url";
import { after, before, describe, test } from "node:test";
import { ROOT, killAll, start, type Server } from "./runtime-support.js";

after(killAll);

interface Case {
  id: string;
  shape: string;
  send: string;
  end?: boolean;
  server?: "default" | "tight";
  expect: number[];
  app?: { method?: string; url?: string; body?: string; header?: [string, string] };
  gunicorn?: string;
}

interface Response {
  status: number;
  body: string;
}

/** Parse the complete HTTP/1.1 responses at the start of `buf` (latin1); `rest` = what follows them. */
export function parseResponses(buf: string, closed: boolean): { responses: Response[]; rest: string } {
  const responses: Response[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const head = buf.slice(at, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
    let bodyEnd: number;
    if (status < 200 || status === 204 || status === 304) bodyEnd = end + 4;
    else if (len) bodyEnd = end + 4 + Number(len[1]);
    else if (chunked) {
      const last = buf.indexOf("\r\n0\r\n\r\n", end + 2);
      if (last < 0) break;
      bodyEnd = last + 7;
    } else if (closed) bodyEnd = buf.length;
    else break;
    if (bodyEnd > buf.length) break;
    responses.push({ status, body: buf.slice(end + 4, bodyEnd) });
    at = bodyEnd;
  }
  return { responses, rest: buf.slice(at) };
}

/** Send one case; resolve once the expected responses came and 150 ms passed quietly, or the connection closed (5 s at most). */
function exchange(port: number, c: Case): Promise<{ responses: Response[]; rest: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1", () => {
      sock.write(Buffer.from(c.send, "latin1"));
      if (c.end) sock.end();
    });
    let buf = "";
    let quiet: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(quiet);
      clearTimeout(limit);
      sock.destroy();
      resolve({ ...parseResponses(buf, closed), closed });
    };
    const limit = setTimeout(() => finish(false), 5000);
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      clearTimeout(quiet);
      if (parseResponses(buf, false).responses.length >= c.expect.length) quiet = setTimeout(() => finish(false), 150);
    });
    sock.on("close", () => finish(true));
    sock.on("error", () => {});
  });
}

/** The echo app as a handler export, and as a program that calls listen() itself. */
const MODES = { handler: "echo-app.mjs#app", listen: "echo-listen.mjs" };

describe("raw-request corpus", { timeout: 120000 }, () => {
  const servers: Record<string, Server> = {};
  let cases: Case[] = [];

  before(async () => {
    cases = (await import(url.pathToFileURL(path.join(ROOT, "test/fixtures/requests/corpus.mjs")).href)).default;
    const tight = ["--limit-request-line", "100", "--limit-request-fields", "5", "--limit-request-field-size", "60"];
    // Handler mode (the runtime's own server) and listen mode (the app's own server, captured):
    // every case must get the same verdict from both.
    const started = await Promise.all(
      Object.entries(MODES).flatMap(([mode, app]) => [
        start(["serve", app, "-w", "1", "-b", "127.0.0.1:0"], { workers: 1 }).then((s) => (servers[`${mode}:default`] = s)),
        start(["serve", app, "-w", "1", "-b", "127.0.0.1:0", ...tight], { workers: 1 }).then((s) => (servers[`${mode}:tight`] = s)),
      ]),
    );
    assert.equal(started.length, 4);
  });

  for (const mode of Object.keys(MODES))
    test(`every case gets its verdict (${mode} mode)`, async () => {
      assert.ok(cases.length >= 80, `the corpus has ${cases.length} cases`);
      const failures: string[] = [];
      for (let i = 0; i < cases.length; i += 8) {
        await Promise.all(
          cases.slice(i, i + 8).map(async (c) => {
            const port = Number(new URL(servers[`${mode}:${c.server ?? "default"}`].url).port);
            const got = await exchange(port, c);
            const statuses = got.responses.map((r) => r.status);
            const problems: string[] = [];
            if (statuses.join(",") !== c.expect.join(",")) problems.push(`statuses ${statuses.join(",") || "none"}, expected ${c.expect.join(",")}`);
            const last = c.expect[c.expect.length - 1];
            if (last >= 400 && (got.rest !== "" || !got.closed)) problems.push(`after the ${last}: ${JSON.stringify(got.rest.slice(0, 80))}, ${got.closed ? "closed" : "still open"}`);
            const ok = got.responses.find((r) => r.status === 200);
            if (c.app && ok && !c.app.method && !c.app.url && !c.app.body && !c.app.header) problems.push("empty app expectation");
            if (c.app && ok) {
              const seen = JSON.parse(Buffer.from(ok.body, "latin1").toString("utf8")) as { method: string; url: string; body: string; headers: string[] };
              if (c.app.method && seen.method !== c.app.method) problems.push(`app saw method ${seen.method}`);
              if (c.app.url && seen.url !== c.app.url) problems.push(`app saw url ${seen.url}`);
              if (c.app.body !== undefined && seen.body !== c.app.body) problems.push(`app saw body ${JSON.stringify(seen.body)}`);
              const h = c.app.header;
              if (h && !seen.headers.some((v, j) => j % 2 === 0 && v === h[0] && seen.headers[j + 1] === h[1])) problems.push(`app saw headers ${JSON.stringify(seen.headers)}`);
            }
            if (problems.length) failures.push(`${c.id} (${c.shape}): ${problems.join("; ")}`);
          }),
        );
      }
      assert.deepEqual(failures, []);
      for (const kind of ["default", "tight"]) assert.equal((await servers[`${mode}:${kind}`].stop()).code, 0);
    });
});
