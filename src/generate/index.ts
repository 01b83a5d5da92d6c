/** The generator: description → Dockerfile, .dockerignore, nginx, systemd, compose (swarm) and k8s files. */
export { renderFiles, renderDockerfile, renderTemplate, renderContext, projectRoot, renderProject, TARGETS, DEFAULT_TARGETS, TEMPLATES_DIR, type Target, type RenderedFile, type RenderOptions } from "./render.js";
export { writeFiles, checkFiles, GENERATED_STATE, GENERATED_BASES, type WriteStatus, type WriteResult, type Drift } from "./write.js";
export { derive, header, HEADER, DEFAULT_DESCRIPTION_FILE, type Derived, type Sourced, type DerivedProcess } from "./derive.js";
export { UnsafeValueError, dockerJson, dockerPath, dockerRun, shellWord, nginxString, systemdValue, systemdArg, systemdExecutable, systemdPathItem, yamlScalar, integer } from "./escape.js";
export { renderK8sManifests, k8sValues, type K8sOptions } from "./k8s.js";
export { packageManagerFacts, COREPACK_VERSION, OFFLINE_DIR, PM_FILES, PM_DIRS, type PackageManagerFacts } from "./package-manager.js";
export { mergeThreeWay, type MergeResult } from "./merge.js";
