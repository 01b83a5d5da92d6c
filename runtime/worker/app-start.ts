/**
 * Worker side: start the app in the mode it asks for (app-loader.ts has the two forms).
 *
 * - `module#export`: import it and serve the export (handler mode).
 * - a program (`module [ARG...]`, `bin ARG...`): run it as `node module ARG...` would, with the
 *   listen capture installed (listen-capture.ts). As soon as it listens on the served port — also
 *   while its module is still evaluating (top-level await) or later (an async bootstrap, as
 *   NestJS's `await app.listen()` or Next.js's `startServer`) — its server is served (listen
 *   mode). If its evaluation ends without a listen and it exports a request handler, that is
 *   served (handler mode). Otherwise the worker waits for a listen up to `deadlineMs`, then
 *   fails to boot with a message naming the entry, the served port and where it did listen.
 */
import { AppLoadError, handlerOf, loadExport, parseAppSpec, resolveProgram, type AppHandler } from "./app-loader.js";
import type { ListenCapture } from "./listen-capture.js";
import { runMain } from "./app-loader.js";
import type { Logger } from "../log.js";
import { within } from "../within.js";

/** How the worker serves the app. */
export type StartedApp = ({ mode: "handler" } & AppHandler) | { mode: "listen"; modulePath: string };

/**
 * Start the app `spec` (see the module doc). `capture` must be installed already.
 * @throws AppLoadError naming the module (its own error as `cause`)
 */
export async function startApp(spec: string, capture: ListenCapture, deadlineMs: number, log: Logger, cwd = process.cwd()): Promise<StartedApp> {
  const parsed = parseAppSpec(spec);
  if (parsed.kind === "export") {
    const handler = await loadExport(spec, cwd);
    if (capture.listening) log.info(`The app also calls listen() on port ${capture.served.port}; serving its export ${spec} (that listen gets no connections)`);
    return { mode: "handler", ...handler };
  }
  const file = resolveProgram(spec, parsed.module, cwd);
  const running = runMain(file, parsed.args);
  const first = await Promise.race([
    running.then(
      (mod) => ({ mod }),
      (error: unknown) => ({ error }),
    ),
    capture.whenListening().then(() => "listening" as const),
  ]);
  if (first === "listening") {
    running.catch((e: unknown) => log.error(`The app's module failed after it started listening: ${(e as Error)?.message ?? String(e)}`, { stack: (e as Error)?.stack }));
    return { mode: "listen", modulePath: file };
  }
  if ("error" in first) {
    const e = first.error as Error;
    throw new AppLoadError(spec, file, `importing the app module failed: ${e?.message ?? String(e)}`, { cause: e });
  }
  const handler = await handlerOf(first.mod, file);
  if (handler) return { mode: "handler", ...handler };
  if (await within(capture.whenListening(), deadlineMs)) return { mode: "listen", modulePath: file };
  const elsewhere = capture.elsewhere.length ? `; it listened on ${capture.elsewhere.join(", ")} instead` : "; it did not listen at all";
  throw new AppLoadError(
    spec,
    file,
    `the app neither exports a request handler nor listened on the served port ${capture.served.port} (PORT) within ${deadlineMs / 1000} s${elsewhere}. Listen on process.env.PORT, set app_port to the port the app listens on, or export the app (module.exports = app / export default app)`,
  );
}
