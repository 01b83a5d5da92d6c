// The CLI's output pieces on their own: the build progress heartbeat (real timers), registry
// error codes in a failed step's output, colour decisions, escape stripping, typo suggestions.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createProgressRenderer, jsonLine, registryErrorCode, registryHint } from "../../src/docker/index.js";
import { Output, colourEnabled } from "../../src/cli/output.js";
import { suggest } from "../../src/cli/main.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const step = (index: number, instruction: string) => ({ type: "step" as const, index, total: 3, instruction, seconds: 0 });

/** A renderer that was sent step `index` of 3 and then nothing for `ms`; with what it wrote. */
async function silentStep(mode: "human" | "json", heartbeatSeconds: number, index: number, instruction: string, ms: number) {
  const lines: string[] = [];
  const r = createProgressRenderer(mode, (t) => lines.push(t), { heartbeatSeconds });
  r.onProgress(step(index, instruction));
  await sleep(ms);
  return { r, lines };
}

describe("build progress heartbeat", () => {
  test("human: a silent step gets 'still running' lines naming it, with its last output; none after done", async () => {
    const { r, lines } = await silentStep("human", 0.2, 2, "RUN npm ci", 700);
    const beats = lines.join("").match(/^ {6}\[2\/3\] still running after [\d.]+s$/gm) ?? [];
    assert.ok(beats.length >= 2, `heartbeats while silent:\n${lines.join("")}`);
    r.onProgress({ type: "output", text: "added 68 packages", step: 2, seconds: 0.5 });
    await sleep(400);
    assert.match(lines.join(""), /still running after [\d.]+s; last output: added 68 packages\n/);
    r.done({ imageId: "sha256:0123456789abcdef", tags: ["x:1"], seconds: 1.5, cachedSteps: 0, totalSteps: 3 });
    const count = lines.length;
    await sleep(500);
    assert.equal(lines.length, count, "nothing after done: the timer stopped");
    assert.match(lines.join(""), /^ {2}\[2\/3\] done [\d.]+s$/m, "the step's line is completed after a heartbeat broke it");
  });

  test("json: heartbeat records while a step is silent; close() stops them", async () => {
    const { r, lines } = await silentStep("json", 0.2, 1, "RUN sleep 60", 600);
    r.close();
    const records = lines.map((l) => JSON.parse(l));
    const beats = records.filter((x) => x.type === "heartbeat");
    assert.ok(beats.length >= 1, lines.join(""));
    assert.equal(beats[0].step, 1);
    assert.equal(beats[0].instruction, "RUN sleep 60");
    const count = lines.length;
    await sleep(400);
    assert.equal(lines.length, count);
  });

  test("a step shorter than the heartbeat interval gets no heartbeat", async () => {
    const { r, lines } = await silentStep("human", 5, 1, "RUN true", 300);
    r.close();
    assert.doesNotMatch(lines.join(""), /still running/);
  });
});

describe("registry failures in a failed step", () => {
  test("the codes npm, pnpm and yarn print are found; prose and other steps are not", () => {
    assert.equal(registryErrorCode("RUN npm ci --omit=dev", ["npm error code SELF_SIGNED_CERT_IN_CHAIN", "npm error errno SELF_SIGNED_CERT_IN_CHAIN"]), "SELF_SIGNED_CERT_IN_CHAIN");
    assert.equal(
      registryErrorCode("RUN pnpm install --frozen-lockfile", [
        " ERR_PNPM_META_FETCH_FAIL  GET https://registry.npmjs.org/hono: request to https://registry.npmjs.org/hono failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org",
      ]),
      "ENOTFOUND",
    );
    assert.equal(
      registryErrorCode("RUN corepack enable && yarn install --immutable", ['error An unexpected error occurred: "https://registry.yarnpkg.com/koa: getaddrinfo EAI_AGAIN registry.yarnpkg.com".']),
      "EAI_AGAIN",
    );
    assert.equal(registryErrorCode("RUN npm ci", ["npm error request failed: could not connect"]), null, "prose alone is not a code");
    assert.equal(registryErrorCode("RUN npm ci", ["MY_ECONNREFUSED_FLAG=1"]), null, "a code inside a longer word is not one");
    assert.equal(registryErrorCode("RUN curl https://example.com", ["curl: (6) ENOTFOUND"]), null, "only package-manager steps");
    assert.equal(registryErrorCode(null, ["ENOTFOUND"]), null);
    assert.match(registryHint("ETIMEDOUT", false), /prodserver build --offline.*\.npmrc/);
    assert.doesNotMatch(registryHint("ETIMEDOUT", true), /build --offline\)/, "an offline build is not told to build offline");
  });
});

describe("terminal output", () => {
  const tty = (hasColors: boolean) => ({ isTTY: true, hasColors: () => hasColors });
  test("colour: a colour terminal only; NO_COLOR turns it off; FORCE_COLOR forces it, FORCE_COLOR=0 refuses it", () => {
    assert.equal(colourEnabled(tty(true), {}), true);
    assert.equal(colourEnabled(tty(false), {}), false, "TERM=dumb and the like");
    assert.equal(colourEnabled({ isTTY: false }, {}), false, "a pipe or a file");
    assert.equal(colourEnabled(tty(true), { NO_COLOR: "1" }), false);
    assert.equal(colourEnabled(tty(true), { NO_COLOR: "" }), true, "an empty NO_COLOR does not count (no-color.org)");
    assert.equal(colourEnabled({ isTTY: false }, { FORCE_COLOR: "1" }), true);
    assert.equal(colourEnabled(tty(true), { FORCE_COLOR: "0" }), false);
    assert.equal(colourEnabled({ isTTY: false }, { FORCE_COLOR: "1", NO_COLOR: "1" }), true, "FORCE_COLOR first, as node");
  });

  test("Output strips escapes off a terminal, keeps them on one; JSON never carries them; each mode prints its own", () => {
    const sink = () => {
      const s = {
        text: "",
        isTTY: false,
        write: (t: string) => {
          s.text += t;
        },
      };
      return s;
    };
    const [out, err] = [sink(), sink()];
    const human = new Output("human", out, err, {});
    human.say("\x1b[32mok\x1b[39m\n");
    human.warn("\x1b[31mwarn\x1b[39m\n");
    assert.equal(out.text, "ok\n");
    assert.equal(err.text, "warn\n");
    assert.equal(human.style("green", "x"), "x");
    const coloured = sink();
    new Output("human", coloured, sink(), { FORCE_COLOR: "1" }).say("\x1b[32mok\x1b[39m");
    assert.equal(coloured.text, "\x1b[32mok\x1b[39m");
    const quiet = sink();
    const q = new Output("quiet", quiet, sink(), {});
    q.say("progress\n");
    q.line("the line\n");
    q.event("file", {});
    assert.equal(quiet.text, "the line\n");
    const json = sink();
    const j = new Output("json", json, sink(), {});
    j.say("progress\n");
    j.line("the line\n");
    j.event("file", { path: "\x1b[1mDockerfile\x1b[22m" });
    assert.equal(json.text, '{"type":"file","path":"Dockerfile"}\n');
    assert.equal(jsonLine({ a: ["\x1b[31mx"] }), '{"a":["x"]}\n');
  });

  test("typo suggestions: close words only", () => {
    assert.equal(suggest("biuld", ["init", "generate", "build", "check"]), "build");
    assert.equal(suggest("ofline", ["offline", "dir", "json"]), "offline");
    assert.equal(suggest("xyz", ["init", "build"]), null);
    assert.equal(suggest("gen", ["init", "generate"]), null, "a prefix is not a typo");
  });
});
