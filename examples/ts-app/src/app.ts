// Example TypeScript app for prodserver: a Hono app, i.e. an object with fetch(Request) -> Response.
// `prodserver serve dist/app.js#app` (the image's CMD) serves it; `npm start` runs dist/server.js.
import { Hono } from "hono";

export const app = new Hono();
const startedAt = new Date().toISOString();

app.get("/", (c) => c.json({ hello: "typescript", app: "ts-hello", pid: process.pid, startedAt }));

// GET /slow?ms=N answers after N milliseconds (0..30000).
app.get("/slow", async (c) => {
  const ms = Number(c.req.query("ms") ?? "100");
  if (!Number.isInteger(ms) || ms < 0 || ms > 30_000) {
    return c.json({ error: "ms must be an integer between 0 and 30000" }, 400);
  }
  await new Promise((resolve) => setTimeout(resolve, ms));
  return c.json({ sleptMs: ms, pid: process.pid });
});

// GET /items/:id with a typed route parameter.
app.get("/items/:id{[0-9]+}", (c) => c.json({ id: Number(c.req.param("id")), name: `item ${c.req.param("id")}` }));

export default app;
