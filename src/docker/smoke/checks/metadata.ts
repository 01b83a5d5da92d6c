/**
 * `metadata`: static checks of the image's configuration, as container-structure-test's
 * `metadataTest`. Needs no container.
 */
import type Dockerode from "dockerode";
import type { SmokeCheck } from "../types.js";
import { fail, pass } from "../support.js";

/**
 * Checks image metadata: `Config.User` numeric and non-root (`1000` or `1000:1000`), `<port>/tcp`
 * exposed, a HEALTHCHECK other than NONE, exec-form `Cmd` (JSON array, not `/bin/sh -c`), and no
 * secret-looking `Env` names (`*SECRET*`, `*PASSWORD*`, `*TOKEN*`, `*_KEY`).
 * @returns problems found (empty = pass) and a summary line
 */
export function checkImageMetadata(info: Dockerode.ImageInspectInfo, port: number): { problems: string[]; summary: string } {
  const c = info.Config;
  const problems: string[] = [];
  const user = c.User ?? "";
  if (!/^\d+(:\d+)?$/.test(user)) problems.push(`USER is ${JSON.stringify(user)}, expected numeric uid[:gid]`);
  else if (Number(user.split(":")[0]) === 0) problems.push("USER is root (uid 0)");
  if (!c.ExposedPorts || !(`${port}/tcp` in c.ExposedPorts)) {
    problems.push(`port ${port}/tcp not exposed (exposed: ${Object.keys(c.ExposedPorts ?? {}).join(", ") || "none"})`);
  }
  const hc = (c as { Healthcheck?: { Test?: string[] } }).Healthcheck;
  if (!hc?.Test?.length || hc.Test[0] === "NONE") problems.push("no HEALTHCHECK");
  else if (hc.Test[0] === "CMD-SHELL") problems.push("HEALTHCHECK is shell form (needs /bin/sh); use exec form");
  const cmd = c.Cmd ?? [];
  if (!cmd.length && !c.Entrypoint?.length) problems.push("no CMD");
  else if (cmd[0] === "/bin/sh" && cmd[1] === "-c") problems.push("CMD is shell form (signals go to /bin/sh, not the runtime)");
  const secret = (c.Env ?? []).map((e) => e.split("=")[0]).filter((n) => /SECRET|PASSWORD|TOKEN|_KEY$/i.test(n));
  if (secret.length) problems.push(`secret-looking ENV baked into the image: ${secret.join(", ")}`);
  const summary =
    `user ${user || "(unset)"}, exposes ${Object.keys(c.ExposedPorts ?? {}).join(",") || "nothing"}, ` + `healthcheck ${hc?.Test?.[0] ?? "none"}, cmd ${cmd[0] === "/bin/sh" ? "shell" : "exec"}-form`;
  return { problems, summary };
}

/** The `metadata` check (see {@link checkImageMetadata}); not fatal: the container is still tried. */
export const metadata: SmokeCheck = {
  name: "metadata",
  async run(ctx) {
    const { problems, summary } = checkImageMetadata(ctx.image, ctx.options.port);
    return problems.length ? fail(problems.join("; ")) : pass(summary);
  },
};
