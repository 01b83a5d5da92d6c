/**
 * Recognises a build step that failed because the builder could not reach the package registry,
 * from the error *codes* the package managers print in the step's output (npm
 * `npm error code ENOTFOUND` / `errno ECONNREFUSED`, pnpm `ERR_PNPM_META_FETCH_FAIL ... ENOTFOUND`,
 * yarn `getaddrinfo EAI_AGAIN`, `SELF_SIGNED_CERT_IN_CHAIN` behind a TLS-intercepting proxy),
 * never from their prose, which changes between versions and locales.
 */

/** Node's network and TLS error codes that mean "the registry was not reachable as configured". */
export const REGISTRY_ERROR_CODES = [
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
] as const;

const CODE_RE = new RegExp(`(?<![A-Z0-9_])(${REGISTRY_ERROR_CODES.join("|")})(?![A-Z0-9_])`);
/** A step that runs a package manager (the only steps the hint is about). */
const INSTALL_RE = /(?<![\w-])(npm|npx|pnpm|yarn|corepack)(?![\w-])/;

/**
 * The first registry error code in a failed step's output, when the step runs a package manager.
 * @param instruction the failing instruction (`RUN npm ci ...`), or null
 * @param output the step's output lines
 * @returns e.g. `"SELF_SIGNED_CERT_IN_CHAIN"`, or null
 */
export function registryErrorCode(instruction: string | null, output: readonly string[]): string | null {
  if (!instruction || !INSTALL_RE.test(instruction)) return null;
  for (const line of output) {
    const m = CODE_RE.exec(line);
    if (m) return m[1];
  }
  return null;
}

/**
 * The hint printed after such a failure: build `--offline`, or give the builder registry access
 * through an `.npmrc` in the app folder (the generated Dockerfile copies it into the install
 * stage only). With `offline` already on, the cache lacked something: say that instead.
 */
export function registryHint(code: string, offline: boolean): string {
  if (offline) {
    return `the install step tried the network (${code}) although the build is --offline: the npm cache shipped in the build context lacks a package; check that the lockfile is complete and up to date (npm install), then build again`;
  }
  return `the builder could not reach the package registry (${code}). Build with \`prodserver build --offline\` (dependencies are fetched on this host and shipped in the build context), or give the builder registry access through an .npmrc in the app folder naming a registry mirror it can reach (registry=https://...)`;
}
