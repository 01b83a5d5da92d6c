/** The generator: description → Dockerfile, .dockerignore, nginx, systemd, compose (swarm) and k8s files. */
export {
  renderFiles,
  renderDockerfile,
  renderK8sManifests,
  renderTemplate,
  renderContext,
  projectRoot,
  renderProject,
  TARGETS,
  DEFAULT_TARGETS,
  TEMPLATES_DIR,
  type Target,
  type RenderedFile,
  type RenderOptions,
} from "./render.js";
export { writeFiles, checkFiles, GENERATED_STATE, GENERATED_BASES, type WriteStatus, type WriteResult, type Drift } from "./write.js";
export {
  derive,
  timeouts,
  webResources,
  header,
  HEADER,
  DEFAULT_DESCRIPTION_FILE,
  PRESTOP_SECONDS,
  STOP_MARGIN_SECONDS,
  type Derived,
  type Sourced,
  type DerivedProcess,
  type Timeouts,
  type Resources,
} from "./derive.js";
export {
  UnsafeValueError,
  dockerJson,
  dockerPath,
  dockerRun,
  commentText,
  shellWord,
  nginxString,
  nginxNames,
  composeScalar,
  k8sExpandable,
  systemdValue,
  systemdUserName,
  systemdArg,
  systemdExecutable,
  systemdPathItem,
  yamlScalar,
  integer,
} from "./escape.js";
export { k8sValues, k8sName, type K8sValues, type K8sProcess } from "./k8s.js";
export { packageManagerFacts, COREPACK_VERSION, OFFLINE_DIR, PM_FILES, PM_DIRS, type PackageManagerFacts } from "./package-manager.js";
export { mergeThreeWay, type MergeResult } from "./merge.js";
