/**
 * The user errors raised below the CLI, mapped to exit codes by class — never by message text.
 * Loaded only when a command failed (./output.ts `failureOf`), so a command that succeeds never
 * pays for importing the description, generator and builder modules.
 */
import { DescriptionError } from "../description/validate.js";
import { DescriptionFileError } from "../description/load.js";
import { UnsafeValueError } from "../generate/escape.js";
import { BuildError } from "../docker/build.js";
import { SettingError } from "../../runtime/settings.js";
import { EXIT, type ExitCode } from "./exit-codes.js";
import type { Failure } from "./output.js";

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;
type Rule = [ErrorClass<Error>, ExitCode, (e: Error) => Record<string, unknown>];
const rule = <E extends Error>(cls: ErrorClass<E>, code: ExitCode, details: (e: E) => Record<string, unknown>): Rule => [cls, code, details as (e: Error) => Record<string, unknown>];

const USER_ERRORS: Rule[] = [
  rule(DescriptionError, EXIT.invalidDescription, (e) => ({ file: e.file, issues: e.issues })),
  rule(DescriptionFileError, EXIT.invalidDescription, (e) => ({ file: e.file })),
  rule(UnsafeValueError, EXIT.invalidDescription, (e) => ({ field: e.field, format: e.format })),
  rule(SettingError, EXIT.invalidDescription, (e) => ({ setting: e.setting, source: e.source })),
  rule(BuildError, EXIT.buildFailed, (e) => ({ step: e.step, instruction: e.instruction, output: e.output })),
];

/** The {@link Failure} for a user error of a known class (printed without a stack), else null. */
export function userFailure(err: unknown): Failure | null {
  for (const [cls, exitCode, details] of USER_ERRORS) {
    if (err instanceof cls) return { exitCode, message: err.message, details: details(err) };
  }
  return null;
}
