/** The options of {@link Arbiter} (runtime/arbiter.ts): what main.ts hands the arbiter. */
import type { Hooks } from "../hooks.js";
import type { Listener } from "../listeners.js";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";
import type { Notifier } from "./systemd.js";

/** What the arbiter needs from its caller. */
export interface ArbiterOptions {
  /** The script a worker runs (`node ENTRY __worker`): dist/runtime/main.js or the bundle. */
  entry: string;
  settings: Settings;
  listeners: Listener[];
  log: Logger;
  /** Re-resolve the settings (for HUP); throws on invalid configuration. */
  reloadSettings: () => Promise<{ settings: Settings; hooks: Hooks }>;
  /** Server hooks from the config file (hooks.ts). */
  hooks?: Hooks;
  /** Reopen the arbiter's own log files (USR1). */
  reopenLogs: () => void;
  /** systemd notifications (READY/RELOADING/STOPPING); optional. */
  notifier?: Notifier;
  /** USR2: start a new arbiter that inherits the listeners (see reexec.ts). */
  reexec?: (listeners: readonly Listener[], preExec: () => void) => void;
  /** True while a re-exec'd arbiter uses our sockets: do not unlink unix socket files at stop. */
  keepSocketFiles?: () => boolean;
}
