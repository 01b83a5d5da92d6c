/**
 * Per-format escaping for generated files. Each function takes the value and the description
 * field it came from; it returns text that the target format parses back to exactly that value,
 * or throws {@link UnsafeValueError} naming the field — never an injectable or broken file.
 * Sources: Dockerfile reference (JSON exec form, env substitution, line continuation `\` followed
 * only by blanks, heredocs `<<EOF` under BuildKit), nginx core docs (quoted strings, variables),
 * systemd.syntax(7)/systemd.service(5) (quoting, `%` specifiers, `$`, a lone `;`), POSIX shell
 * quoting, YAML 1.2 double-quoted scalars and their escapes, the Compose specification
 * (interpolation: `$$` is a literal `$`), the Kubernetes Container API (`$(VAR)` expansion in
 * command/args/env, `$$` a literal `$`).
 *
 * Every function refuses C0 control characters (newline, NUL, ...), DEL, and strings that are not
 * well-formed UTF-16 (a lone surrogate cannot be written as UTF-8). Unicode line and paragraph
 * separators (U+0085, U+2028, U+2029) are no line break for Docker, nginx or systemd, whose
 * parsers split lines on LF only; YAML counts them as line breaks, so the YAML helpers escape them.
 */

/** A value that cannot be written safely into a generated file; `field` is the description path. */
export class UnsafeValueError extends Error {
  constructor(
    readonly field: string,
    readonly format: string,
    why: string,
    value: unknown,
  ) {
    const shown = JSON.stringify(value) ?? String(value);
    super(`${field}: cannot be written into ${format}: ${why} (value ${shown.length > 80 ? shown.slice(0, 77) + "..." : shown})`);
    this.name = "UnsafeValueError";
  }
}

const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/; // all C0 controls but TAB, plus DEL
const MAX = 4096;
/** White space by Go's unicode.IsSpace, which Docker's parser trims around an instruction's text. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function text(value: unknown, field: string, format: string): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") throw new UnsafeValueError(field, format, "expected a string or number", value);
  if (value.length > MAX) throw new UnsafeValueError(field, format, `longer than ${MAX} characters`, value);
  if (CONTROL.test(value) || value.includes("\t")) {
    throw new UnsafeValueError(field, format, "contains a control character (newline, NUL, tab, ...)", value);
  }
  if (LONE_SURROGATE.test(value)) throw new UnsafeValueError(field, format, "contains a lone UTF-16 surrogate (not writable as UTF-8)", value);
  return value;
}

/** A string inside a Dockerfile JSON array (CMD/HEALTHCHECK exec form): JSON-quoted. Exec form has no
 *  variable substitution, so `$` is literal; control characters are refused (a newline would end the line). */
export function dockerJson(value: unknown, field: string): string {
  return JSON.stringify(text(value, field, "a Dockerfile exec-form argument"));
}

/** A path in a Dockerfile COPY/WORKDIR (env substitution applies there): only `[A-Za-z0-9._@+/-]`. */
export function dockerPath(value: unknown, field: string): string {
  const v = text(value, field, "a Dockerfile path");
  if (!/^[A-Za-z0-9._@+/-]+$/.test(v)) throw new UnsafeValueError(field, "a Dockerfile path", "only A-Z a-z 0-9 . _ @ + / - are allowed", v);
  return v;
}

/**
 * A whole shell command line for a Dockerfile `RUN` (the user's own command, e.g. build.command),
 * also usable at the end of a comment line. Refused, naming the field: empty; white space at either
 * end (Docker trims it, Unicode white space included, so the shell would get another command); a backslash followed
 * only by blanks at the end (Docker's line continuation: the next instruction would join the RUN);
 * `<<` (BuildKit reads `<<WORD` as a heredoc and swallows the following lines); a leading `[`
 * (Docker would read the line as the JSON exec form, bypassing the shell).
 */
export function dockerRun(value: unknown, field: string): string {
  const f = "a Dockerfile RUN line";
  const v = text(value, field, f);
  if (!v.trim()) throw new UnsafeValueError(field, f, "empty", v);
  if (GO_SPACE.test(v[0]) || GO_SPACE.test(v.at(-1)!)) {
    throw new UnsafeValueError(field, f, "starts or ends with white space (Docker trims it, including U+0085 and U+00A0)", v);
  }
  if (/\\[ \t]*$/.test(v)) throw new UnsafeValueError(field, f, "ends with a backslash (Docker would continue the line into the next instruction)", v);
  if (v.includes("<<")) throw new UnsafeValueError(field, f, "contains << (BuildKit reads a heredoc there); put the command in a package.json script", v);
  if (/^\s*\[/.test(v)) throw new UnsafeValueError(field, f, "starts with [ (Docker would read a JSON exec form)", v);
  return v;
}

/** A value inside a comment line of any generated format: one line (control characters refused),
 *  no trailing backslash (systemd and Docker would join the next line to the comment). */
export function commentText(value: unknown, field: string): string {
  const v = text(value, field, "a comment");
  if (/\\\s*$/.test(v)) throw new UnsafeValueError(field, "a comment", "ends with a backslash", v);
  return v;
}

/** A single shell word, POSIX single-quoted when it has anything but `[A-Za-z0-9._/:=@%+,-]`. */
export function shellWord(value: unknown, field: string): string {
  const v = text(value, field, "a shell word");
  if (v !== "" && /^[A-Za-z0-9._/:=@%+,-]+$/.test(v)) return v;
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** An nginx directive argument: bare when `[A-Za-z0-9._*:/~^-]`, else double-quoted. `$` (variable
 *  interpolation), `"` and `\` are refused: nginx has no way to write a literal `$` in most directives. */
export function nginxString(value: unknown, field: string): string {
  const v = text(value, field, "an nginx value");
  if (v !== "" && /^[A-Za-z0-9._*:/~^-]+$/.test(v)) return v;
  if (/[$"\\]/.test(v)) throw new UnsafeValueError(field, "an nginx value", '$, " and \\ cannot be written literally', v);
  return `"${v}"`;
}

/** An nginx `server_name` list: the description's space-separated names, each written as one
 *  {@link nginxString} argument (a single quoted string would be one name that no Host matches). */
export function nginxNames(value: unknown, field: string): string {
  const v = text(value, field, "an nginx server_name list");
  const names = v.split(" ");
  if (names.some((n) => n === "")) throw new UnsafeValueError(field, "an nginx server_name list", "names are separated by single spaces", v);
  return names.map((n) => nginxString(n, field)).join(" ");
}

/** A plain systemd setting value (User=, WorkingDirectory=, Description=): `%` doubled (specifiers),
 *  no control characters, no leading/trailing space, no trailing backslash (line continuation). */
export function systemdValue(value: unknown, field: string): string {
  const v = text(value, field, "a systemd value");
  if (v !== v.trim() || /\\$/.test(v)) {
    throw new UnsafeValueError(field, "a systemd value", "leading/trailing space or a trailing backslash", v);
  }
  return v.replace(/%/g, "%%");
}

/** A systemd User=/Group= value: a numeric id, or a name by systemd's strict rules
 *  (`[A-Za-z_][A-Za-z0-9_-]{0,30}`); a laxer name (`www-data$`, `a.b`) makes systemd log a warning
 *  and is refused here. */
export function systemdUserName(value: unknown, field: string): string {
  const v = text(value, field, "a systemd user or group");
  if (!/^([A-Za-z_][A-Za-z0-9_-]{0,30}|\d{1,10})$/.test(v) || (/^\d+$/.test(v) && Number(v) > 2147483646)) {
    throw new UnsafeValueError(field, "a systemd user or group", "expected a numeric id or a name [A-Za-z_][A-Za-z0-9_-]{0,30}", v);
  }
  return v;
}

/** One argument of a systemd command line (ExecStart=): bare when `[A-Za-z0-9._/:=@+,-]`, else
 *  double-quoted with `\` and `"` backslash-escaped; `%` → `%%` (specifiers) and `$` → `$$`
 *  (environment expansion) either way. */
export function systemdArg(value: unknown, field: string): string {
  const v = text(value, field, "a systemd command-line argument");
  const esc = v.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (v !== "" && /^[A-Za-z0-9._/:=@+,#-]+$/.test(v)) return esc;
  return `"${esc.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The program of a systemd command line (first word of ExecStart=): systemd refuses "special
 *  characters" and directories there, so only `[A-Za-z0-9._+@/-]`, no trailing `/`, no leading `-@+!:`. */
export function systemdExecutable(value: unknown, field: string): string {
  const v = text(value, field, "a systemd executable");
  if (!/^[A-Za-z0-9._+/][A-Za-z0-9._+@/-]*$/.test(v) || v.endsWith("/") || v.includes("//")) {
    throw new UnsafeValueError(field, "a systemd executable", "a program path is [A-Za-z0-9._+@/-] and names a file", v);
  }
  return v;
}

/** One item of a systemd path list (ReadWritePaths=): always double-quoted, `\` and `"` escaped,
 *  `%` doubled; `$` is literal there (no environment expansion). Must be absolute. `ignoreMissing`
 *  adds systemd's `-` prefix (a missing path is skipped instead of failing the unit). */
export function systemdPathItem(value: unknown, field: string, ignoreMissing = false): string {
  const v = text(value, field, "a systemd path list item");
  if (!v.startsWith("/")) throw new UnsafeValueError(field, "a systemd path list item", "expected an absolute path", v);
  return `"${ignoreMissing ? "-" : ""}${v.replace(/%/g, "%%").replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Characters a YAML double-quoted scalar must escape beyond JSON's: C1 controls and NEL (U+0085),
 *  the line/paragraph separators U+2028/U+2029 (YAML line breaks: a raw one folds into a space),
 *  the BOM and the non-characters U+FFFE/U+FFFF (not YAML-printable). */
const YAML_UNPRINTABLE = /[\u0080-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

/** A YAML scalar: a JSON double-quoted string (valid YAML 1.2 and 1.1) with the characters YAML
 *  does not take raw escaped as `\uXXXX`, for strings; bare for numbers. */
export function yamlScalar(value: unknown, field: string): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new UnsafeValueError(field, "YAML", "not a finite number", value);
    return String(value);
  }
  return JSON.stringify(text(value, field, "a YAML scalar")).replace(YAML_UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A string in compose.yaml, where Compose interpolates `$VAR`/`${VAR}` in every value: `$` is
 *  doubled (`$$` is Compose's literal `$`), then written as {@link yamlScalar}. Numbers stay bare. */
export function composeScalar(value: unknown, field: string): string {
  return typeof value === "string" ? yamlScalar(text(value, field, "a Compose value").replace(/\$/g, "$$$$"), field) : yamlScalar(value, field);
}

/** A Kubernetes container `command`/`args` item or env `value`, where the kubelet expands
 *  `$(VAR)`: `$` is doubled (`$$` is the literal `$`), then written as {@link yamlScalar}. */
export function k8sExpandable(value: unknown, field: string): string {
  return typeof value === "string" ? yamlScalar(text(value, field, "a Kubernetes command").replace(/\$/g, "$$$$"), field) : yamlScalar(String(value), field);
}

/** An integer within [min, max] (ports, UIDs, counts); anything else throws naming the field. */
export function integer(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): string {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new UnsafeValueError(field, "a generated file", `expected an integer ${min}-${max}`, value);
  }
  return String(value);
}
