// Development entry point (`npm start` after `npm run build`): one process on PORT (default 3000).
import { serve } from "@hono/node-server";
import { app } from "./app.js";

const port = Number(process.env.PORT ?? 3000);
serve({ fetch: app.fetch, port }, () => console.log(`ts-hello listening on http://127.0.0.1:${port}`));
