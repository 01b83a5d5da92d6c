// Bench app for bench/timeout-kill.mjs and bench/memory-overshoot.mjs:
// /exec-sleep?s=N blocks the event loop in execSync("sleep N") (a child process);
// /leak?mb=N keeps N MiB more for the life of the worker; /throw-later and /reject-later answer
// 200, then throw in a timer / reject a promise nobody handles 20 ms later (stray errors);
// anything else: 200 "ok".
import { execSync } from "node:child_process";

const kept = [];
export default function stuck(req, res) {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/exec-sleep") execSync(`sleep ${Number(url.searchParams.get("s") ?? 30)}`);
  if (url.pathname === "/leak") kept.push(Buffer.alloc(Number(url.searchParams.get("mb") ?? 5) * 1024 * 1024, 1));
  if (url.pathname === "/throw-later")
    setTimeout(() => {
      throw new Error("stray throw");
    }, 20);
  if (url.pathname === "/reject-later") setTimeout(() => void Promise.reject(new Error("stray rejection")), 20);
  res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
  res.end("ok");
}
