/** The builder: build context, image build with progress, smoke test (Docker Engine API via dockerode). */
export { createBuildContext, listContextFiles, CONTEXT_OFFLINE_PATH, type BuildContextOptions } from "./context.js";
export { fillOfflineCache, manifestFiles, defaultCacheRoot, type OfflineCacheOptions, type OfflineCache } from "./offline.js";
export { buildImage, createBuildParser, BuildError, type BuildEvent, type BuildImageOptions, type BuildResult } from "./build.js";
export { createProgressRenderer, finalLine, formatBytes, formatSeconds, type ProgressMode, type ProgressRenderer, type Write } from "./progress.js";
export { smokeTest, smokeOptionsFrom, formatReport, fetchWithTimeout, type SmokeOptions, type SmokeReport, type Check, type DescriptionFields } from "./smoke.js";
export { checkImageMetadata, demux, listProcesses, countRuntimeProcesses, containerLogs, execIn, PROBE_SCRIPT, type ProbeResult, type ProcessRow } from "./inspect.js";
export { projectBuildContext, buildProject, imageTags, type ProjectContext, type ProjectContextOptions } from "./project.js";
