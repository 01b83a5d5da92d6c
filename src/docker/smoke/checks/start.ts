/**
 * `start`: create and start the container under test, its port published on 127.0.0.1 (a free
 * host port), labelled `prodserver.smoke=<image ref>`. Fatal: nothing else can run without it.
 * The runner removes the container afterwards, whatever happened.
 */
import { randomBytes } from "node:crypto";
import type { SmokeCheck } from "../types.js";
import { pass } from "../support.js";

const HARDENED = {
  ReadonlyRootfs: true,
  Tmpfs: { "/tmp": "rw,size=64m" },
  CapDrop: ["ALL"],
  SecurityOpt: ["no-new-privileges"],
  Memory: 512 * 1024 * 1024,
};

/** The `start` check: sets `ctx.container` and `ctx.baseUrl`. */
export const start: SmokeCheck = {
  name: "start",
  fatal: true,
  async run(ctx) {
    const { options: opts } = ctx;
    const portKey = `${opts.port}/tcp`;
    const imageHc = (ctx.image.Config as { Healthcheck?: unknown }).Healthcheck;
    ctx.container = await ctx.docker.createContainer({
      Image: ctx.image.Id,
      name: `prodserver-smoke-${randomBytes(4).toString("hex")}`,
      Env: opts.env,
      Labels: { "prodserver.smoke": ctx.imageRef },
      ...(ctx.healthcheck !== imageHc ? { Healthcheck: ctx.healthcheck } : {}),
      ExposedPorts: { [portKey]: {} },
      HostConfig: {
        PortBindings: { [portKey]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
        AutoRemove: false,
        ...(opts.hardened ? HARDENED : {}),
      },
    });
    await ctx.container.start();
    const ins = await ctx.container.inspect();
    const hostPort = ins.NetworkSettings.Ports?.[portKey]?.[0]?.HostPort;
    if (!hostPort) throw new Error(`no host port published for ${portKey}`);
    ctx.baseUrl = `http://127.0.0.1:${hostPort}`;
    const lockedDown = opts.hardened ? " (read-only rootfs, tmpfs /tmp, cap-drop ALL, no-new-privileges, 512 MB)" : "";
    return pass(`container ${ins.Id.slice(0, 12)} on ${ctx.baseUrl}${lockedDown}`);
  },
};
