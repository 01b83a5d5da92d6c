/** Small pieces the CLI commands share: the user-facing error type and entry detection. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** An error meant for the user: printed as `prodserver: <message>` without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** True when the module at `url` is the script node was started with (also through npm's bin symlinks). */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

/**
 * True for errors caused by the user's input, printed without a stack: an invalid description
 * (DescriptionError), a value no generated format can carry (UnsafeValueError), a setting error,
 * or a description file that is missing or cannot load.
 */
export function isUserError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (["DescriptionError", "UnsafeValueError", "SettingError", "BuildError"].includes(err.name)) return true;
  return /^(no project description|several project descriptions|cannot load )/.test(err.message);
}
