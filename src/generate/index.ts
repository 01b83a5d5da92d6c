/** The generator: description → Dockerfile, .dockerignore, nginx, systemd (and compose) files. */
export { renderFiles, renderDockerfile, renderTemplate, renderContext, TARGETS, TEMPLATES_DIR, type Target, type RenderedFile, type RenderOptions } from "./render.js";
export { writeFiles, checkFiles, GENERATED_STATE, type WriteStatus, type WriteResult, type Drift } from "./write.js";
export { derive, HEADER, RUNTIME_PATH, type Derived, type Sourced, type DerivedProcess } from "./derive.js";
export { UnsafeValueError, dockerJson, dockerPath, dockerRun, shellWord, nginxString, systemdValue, systemdArg, yamlScalar, integer } from "./escape.js";
