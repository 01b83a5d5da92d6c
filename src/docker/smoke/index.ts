/** The smoke test: one module per check (./checks) behind {@link SmokeCheck}, run by ./runner.ts. */
export type { Check, CheckResult, DescriptionFields, HealthConfig, SmokeCheck, SmokeContext, SmokeOptions, SmokeReport } from "./types.js";
export { smokeTest, defaultChecks, createSmokeContext, runCheck, removeContainer } from "./runner.js";
export { smokeOptionsFrom, resolveSmokeOptions } from "./options.js";
export { formatReport, resultLine, type ReportStyle } from "./report.js";
export { fetchWithTimeout, within } from "./support.js";
export { metadata, checkImageMetadata } from "./checks/metadata.js";
export { start } from "./checks/start.js";
export { healthy } from "./checks/healthy.js";
export { httpGet } from "./checks/http-get.js";
export { nonRoot } from "./checks/non-root.js";
export { processes } from "./checks/processes.js";
export { respawn, KILL_WORKER_SCRIPT } from "./checks/respawn.js";
export { files, PROBE_SCRIPT, type ProbeResult } from "./checks/files.js";
export { sigterm, drain } from "./checks/sigterm.js";
