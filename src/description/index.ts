/** The project description: schema, defaults, validation, loading, detection, rendering. */
export type { Description, DescriptionInput, WebProcess, OtherProcess, Workspace } from "./types.js";
export { DescriptionError, validateDescription, defineConfig, descriptionJsonSchema, type DescriptionIssue } from "./validate.js";
export { descriptionSchema, webSettings, NAME_PATTERN, TAG_PATTERN, PROCESS_PATTERN } from "./schema.js";
export { loadDescription, findDescriptionFile, DescriptionFileError, DESCRIPTION_FILES, type DescriptionFile } from "./load.js";
export { detectProject, descriptionFormat, chooseNode, lowestNodeMajor, detectExport, detectPort, sanitizeName, parseJsonc, type Detection } from "./detect.js";
export { renderDescriptionFile, type DescriptionFormat } from "./render.js";
