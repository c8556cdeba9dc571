import { readFileSync } from "node:fs";
import { createClient } from "@redis/client";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { withDeadline } from "./deadline.js";

export interface RedisOptions {
  /** `redis://[user:password@]HOST:PORT[/DB]` or `rediss://` for TLS. */
  url: string;
  /** Namespace of every key and channel (default `swy:`). */
  prefix?: string;
  /** A command not answered in this time fails (no request waits on a dead Redis). */
  commandTimeoutMs?: number;
  username?: string | undefined;
  password?: string | undefined;
  /** For `rediss://`: PEM contents (not paths). */
  tls?: {
    ca?: string | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    servername?: string | undefined;
  };
}

/**
 * A Redis connection as the gateway needs it: commands fail fast while disconnected (no offline queue)
 * and while Redis hangs (a deadline on each reply: `deadline.ts`), reconnection by itself with a capped
 * backoff, and errors that never crash.
 */
export function newRedisClient(options: RedisOptions) {
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  const client = createClient({
    url: options.url,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    socket: {
      ...Object.fromEntries(Object.entries(options.tls ?? {}).filter(([, v]) => v !== undefined)),
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
  client.on("error", () => {});
  return withDeadline(client, timeoutMs);
}

export type RedisClient = ReturnType<typeof newRedisClient>;

/** Connect in the background; resolve when connected or after `waitMs`, whichever comes first. */
export async function connectSoon(work: Promise<unknown>, waitMs = 2000): Promise<void> {
  await Promise.race([work.catch(() => {}), new Promise((r) => setTimeout(r, waitMs).unref())]);
}

/**
 * The Redis connection the configuration names (the password may come from `SWITCHYARD_REDIS_PASSWORD`).
 * TLS files are read here, once: a missing one stops the start with its name.
 */
export function redisOptionsFrom(config: Config): RedisOptions {
  const { url, prefix, username, commandTimeout, tls } = config.store;
  const pem = (field: "ca" | "cert" | "key") => {
    const path = tls[field];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(`store.tls.${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  };
  return {
    url,
    prefix,
    username,
    password: config.store.password ?? process.env.SWITCHYARD_REDIS_PASSWORD,
    commandTimeoutMs: commandTimeout,
    tls: { ca: pem("ca"), cert: pem("cert"), key: pem("key"), servername: tls.servername },
  };
}
