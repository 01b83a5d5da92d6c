/** The builder: build context, image build with progress, smoke test (Docker Engine API via dockerode). */
export { createBuildContext, listContextFiles, CONTEXT_OFFLINE_PATH, type BuildContextOptions } from "./context.js";
export { fillOfflineCache, manifestFiles, defaultCacheRoot, type OfflineCacheOptions, type OfflineCache } from "./offline.js";
export { buildImage, createBuildParser, BuildError, type BuildEvent, type BuildImageOptions, type BuildResult } from "./build.js";
export { createProgressRenderer, finalLine, jsonLine, formatBytes, formatSeconds, type ProgressMode, type ProgressRenderer, type Write } from "./progress.js";
export * from "./smoke/index.js";
export { demux, listProcesses, countRuntimeProcesses, containerLogs, execIn, type ProcessRow } from "./inspect.js";
export { projectBuildContext, buildProject, imageTags, type ProjectContext, type ProjectContextOptions } from "./project.js";
export { registryErrorCode, registryHint, REGISTRY_ERROR_CODES } from "./network-hint.js";
