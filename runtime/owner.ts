/**
 * Gunicorn's `user` / `group` for the workers: resolve names against /etc/passwd and /etc/group
 * (Node has no getpwnam), and switch a worker to them (`util.set_owner_process`: initgroups,
 * setgid, then setuid). The arbiter keeps its own identity. Also the TLS material (`certfile`,
 * `keyfile`), read while the worker is still root. Node built-ins only.
 */
import fs from "node:fs";
import { SettingError } from "./setting-kinds.js";

/** The identity workers switch to; `name` is set when the user was given (or found) by name, for initgroups. */
export interface Owner {
  uid: number | null;
  gid: number | null;
  name?: string;
}

/** Rows of a colon-separated database (/etc/passwd, /etc/group); missing file = no rows. */
function rows(file: string): string[][] {
  try {
    return fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(":"));
  } catch {
    return [];
  }
}

/**
 * Resolve `user` and `group` (a name or a numeric id each, null = keep). A user given without a
 * group switches to the user's primary group (Gunicorn keeps the arbiter's group instead, which
 * would leave workers in root's group). Returns null when neither is set.
 * @throws SettingError naming `user` or `group` when a name is unknown, or when the arbiter is
 *   not root (only root can switch identity).
 */
export function resolveOwner(user: string | null, group: string | null, source = "settings"): Owner | null {
  if (user === null && group === null) return null;
  const owner: Owner = { uid: null, gid: null };
  if (user !== null) {
    const row = rows("/etc/passwd").find((r) => (/^\d+$/.test(user) ? r[2] === user : r[0] === user));
    if (!row && !/^\d+$/.test(user)) throw new SettingError("user", source, `no such user ${JSON.stringify(user)} in /etc/passwd`);
    owner.uid = Number(row ? row[2] : user);
    owner.name = row?.[0];
    if (group === null && row) owner.gid = Number(row[3]);
  }
  if (group !== null) {
    const row = rows("/etc/group").find((r) => (/^\d+$/.test(group) ? r[2] === group : r[0] === group));
    if (!row && !/^\d+$/.test(group)) throw new SettingError("group", source, `no such group ${JSON.stringify(group)} in /etc/group`);
    owner.gid = Number(row ? row[2] : group);
  }
  if (process.getuid?.() !== 0) {
    throw new SettingError(user !== null ? "user" : "group", source, `switching the workers' identity needs the arbiter to run as root (it runs as uid ${process.getuid?.()})`);
  }
  return owner;
}

/** Switch this process to `owner`: initgroups (when the user has a name), setgid, then setuid. */
export function switchOwner(owner: Owner): void {
  if (owner.gid !== null) {
    const initgroups = (process as { initgroups?: (user: string, gid: number) => void }).initgroups;
    if (owner.name && initgroups) initgroups(owner.name, owner.gid);
    else process.setgroups!([owner.gid]);
    process.setgid!(owner.gid);
  }
  if (owner.uid !== null) process.setuid!(owner.uid);
}

/**
 * The `certfile`/`keyfile` contents for node:https, or null when neither is set.
 * @throws SettingError naming the missing one when only one is set, or the one that cannot be read.
 */
export function tlsOptions(settings: { certfile: string | null; keyfile: string | null }, source = "the resolved settings"): { cert: Buffer; key: Buffer } | null {
  const { certfile, keyfile } = settings;
  if (certfile === null && keyfile === null) return null;
  if (keyfile === null) throw new SettingError("keyfile", source, "certfile is set but keyfile is not; HTTPS needs both");
  if (certfile === null) throw new SettingError("certfile", source, "keyfile is set but certfile is not; HTTPS needs both");
  const read = (name: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new SettingError(name, source, `cannot read ${file}: ${(e as Error).message}`);
    }
  };
  return { cert: read("certfile", certfile), key: read("keyfile", keyfile) };
}
