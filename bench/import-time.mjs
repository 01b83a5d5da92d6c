// Time `await import(FILE)` in fresh node processes: the cost every runtime process pays for the
// bundle before its first line runs. Usage: node bench/import-time.mjs [FILE] [RUNS]
// (default dist/prodserver-runtime.mjs, 9 runs); prints the median and the runs in ms.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const file = path.resolve(process.argv[2] ?? fileURLToPath(new URL("../dist/prodserver-runtime.mjs", import.meta.url)));
const runs = Number(process.argv[3] ?? 9);
const probe = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
// An .mjs file, not --eval: node's ESM loader is then up before the clock starts, as in a process
// whose entry point is the bundle.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-import-"));
fs.writeFileSync(path.join(dir, "probe.mjs"), probe);
const ms = [];
for (let i = 0; i < runs; i++)
  ms.push(
    Number(
      execFileSync(process.execPath, [path.join(dir, "probe.mjs")], { encoding: "utf8" })
        .trim()
        .split("\n")
        .pop(),
    ),
  );
fs.rmSync(dir, { recursive: true, force: true });
ms.sort((a, b) => a - b);
console.log(`import ${path.basename(file)}: median ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms (runs: ${ms.map((m) => m.toFixed(1)).join(" ")})`);
