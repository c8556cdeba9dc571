import type { Config } from "../config/schema.js";
import { redisOptionsFrom, usesRedis } from "../redis/client.js";
import { MemorySessionStore } from "./memory-store.js";
import { RedisSessionStore } from "./redis-store.js";
import type { SessionStore } from "./store.js";

/** The session store the configuration names. */
export async function createStore(config: Config): Promise<SessionStore> {
  if (!usesRedis(config)) {
    return new MemorySessionStore({ idleTtlMs: config.sessions.idleTtl, maxSessions: config.sessions.maxSessions });
  }
  return RedisSessionStore.connect({ ...redisOptionsFrom(config), idleTtlMs: config.sessions.idleTtl });
}
