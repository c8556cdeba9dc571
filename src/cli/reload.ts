import { createHash } from "node:crypto";
import { type FSWatcher, readFileSync, watch as watchDir } from "node:fs";
import { basename, dirname } from "node:path";
import { ConfigError, type ConfigFlags, loadConfig } from "../config/load.js";
import { fixedChanges } from "../config/reloadable.js";
import type { Config } from "../config/schema.js";
import type { Gateway } from "../gateway/server.js";
import type { Hosts } from "../host/local-hosts.js";
import { publish } from "../observability/events.js";

/** Time for a file being written (or a ConfigMap's symlinks being swapped) to settle before it is read. */
const SETTLE_MS = 200;

/**
 * Live reconfiguration: SIGHUP, and with `watch` any change to the configuration file (its directory is
 * watched, so a Kubernetes ConfigMap's symlink swap counts), load the file again with the same flags.
 * A configuration that does not validate, or that changes an option fixed at start, is refused as a
 * whole: one `config` event names each error, and the running configuration stays.
 */
export function reloadOn(options: {
  gateway: Gateway;
  config: Config;
  file: string | undefined;
  flags: ConfigFlags;
  watch: boolean;
  /** Routes that run their own stdio server: started (or kept) before a configuration is applied. */
  hosts?: Hosts;
}): { close(): void } {
  let current = options.config;
  let running: Promise<void> = Promise.resolve();
  let lastText = options.file ? contentHash(options.file) : "";

  const reload = async (why: "signal" | "file") => {
    let next: Config;
    try {
      next = loadConfig({ file: options.file, flags: options.flags });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return refused(
        why,
        err.message
          .split("\n")
          .filter((l) => l.startsWith("  "))
          .map((l) => l.trim()),
        err.message,
      );
    }
    const fixed = fixedChanges(current, next);
    if (fixed.length > 0)
      return refused(
        why,
        fixed.map((name) => `${name}: cannot change while running (restart)`),
      );
    try {
      if (options.hosts) next = await options.hosts.prepare(next);
      await options.gateway.reload(next);
    } catch (err) {
      return refused(why, [(err as Error).message]);
    }
    await options.hosts?.settle(next);
    current = next;
    publish("config", { outcome: "applied", trigger: why, errors: [] });
  };
  const refused = (why: "signal" | "file", errors: string[], whole?: string) => {
    const named = errors.length > 0 ? errors : [whole ?? "invalid"];
    options.gateway.state.history.refused(why, named);
    publish("config", { outcome: "refused", trigger: why, errors: named });
  };
  const queue = (why: "signal" | "file") => {
    running = running.then(() => reload(why)).catch((err: unknown) => refused(why, [(err as Error).message]));
  };

  const onHup = () => queue("signal");
  process.on("SIGHUP", onHup);
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (options.watch && options.file) {
    const file = options.file;
    const name = basename(file);
    watcher = watchDir(dirname(file), (_event, changed) => {
      // The file itself, or a ConfigMap's `..data` symlink swapped under it.
      if (changed !== null && changed !== name && !changed.startsWith("..")) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const text = contentHash(file);
        if (text === lastText) return;
        lastText = text;
        queue("file");
      }, SETTLE_MS);
    });
    watcher.on("error", () => {});
  }
  return {
    close() {
      process.off("SIGHUP", onHup);
      clearTimeout(timer);
      watcher?.close();
    },
  };
}

/** The file's content as a hash ("" when it cannot be read: the next change is then a change). */
function contentHash(file: string): string {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  } catch {
    return "";
  }
}
