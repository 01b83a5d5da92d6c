/**
 * prodserver's public API: `defineConfig` and the `Description` types for prodserver.config.ts,
 * plus the description and generator functions the CLI is built from.
 */
export { defineConfig, validateDescription, loadDescription, detectProject, descriptionJsonSchema, renderDescriptionFile, DescriptionError } from "./description/index.js";
export type { Description, DescriptionInput, WebProcess, OtherProcess, Detection, DescriptionFormat } from "./description/index.js";
export { renderFiles, renderDockerfile, writeFiles, checkFiles, UnsafeValueError, TARGETS, DEFAULT_TARGETS } from "./generate/index.js";
export type { RenderedFile, RenderOptions, Target, WriteResult, WriteStatus, Drift } from "./generate/index.js";
