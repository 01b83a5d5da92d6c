// Example Express 5 app for prodserver. This module only builds the app and exports it;
// `prodserver serve src/app.js#app` (the image's CMD) or `npm start` (server.js) listens.
import express from "express";
import helmet from "helmet";
import { z } from "zod";

export const app = express();
app.disable("x-powered-by");
app.use(helmet());
app.use(express.json({ limit: "100kb" }));

const startedAt = new Date().toISOString();

app.get("/", (_req, res) => {
  res.json({ hello: "world", app: "express-hello", pid: process.pid, startedAt });
});

// GET /slow?ms=N answers after N milliseconds (0..30000): handy for drain and timeout tests.
const slowQuery = z.object({ ms: z.coerce.number().int().min(0).max(30_000).default(100) });
app.get("/slow", async (req, res) => {
  const parsed = slowQuery.safeParse(req.query);
  if (!parsed.success) {
    res.status(400).json({ error: "ms must be an integer between 0 and 30000" });
    return;
  }
  await new Promise((resolve) => setTimeout(resolve, parsed.data.ms));
  res.json({ sleptMs: parsed.data.ms, pid: process.pid });
});

// POST /greet {"name": "..."} validates the body with zod.
const greetBody = z.object({ name: z.string().trim().min(1).max(100) });
app.post("/greet", (req, res) => {
  const parsed = greetBody.safeParse(req.body);
  if (!parsed.success) {
    res.status(422).json({ error: "invalid body", issues: parsed.error.issues.map((i) => i.message) });
    return;
  }
  res.json({ greeting: `Hello, ${parsed.data.name}!` });
});

export default app;
