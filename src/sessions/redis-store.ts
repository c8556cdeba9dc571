import { createHash } from "node:crypto";
import { createClient } from "@redis/client";
import type { SessionRecord, SessionStore } from "./store.js";

export interface RedisStoreOptions {
  /** `redis://[user:password@]HOST:PORT[/DB]` or `rediss://` for TLS. */
  url: string;
  idleTtlMs: number;
  /** Namespace of every key (default `swy:`). */
  prefix?: string;
  /** A command not answered in this time fails (no request waits on a dead Redis). */
  commandTimeoutMs?: number;
}

function newClient(options: RedisStoreOptions) {
  return createClient({
    url: options.url,
    disableOfflineQueue: true,
    commandOptions: { timeout: options.commandTimeoutMs ?? 1000 },
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
}

type Client = ReturnType<typeof newClient>;

/** What is stored: the record minus `lastSeenAt`, which Redis's sliding TTL stands for. */
type Stored = Omit<SessionRecord, "lastSeenAt">;

/**
 * Session → replica in Redis, shared by every gateway replica. Keys are namespaced and carry a hash of
 * the session id, never the id; learning is SET NX with the idle TTL, every read renews it (GETEX).
 * Commands fail fast while Redis is unreachable (no offline queue) and the client reconnects by itself.
 */
export class RedisSessionStore implements SessionStore {
  private readonly prefix: string;

  private constructor(
    private readonly client: Client,
    private readonly options: RedisStoreOptions,
  ) {
    this.prefix = options.prefix ?? "swy:";
  }

  static async connect(options: RedisStoreOptions): Promise<RedisSessionStore> {
    const client = newClient(options);
    // Connection errors are reported here and retried by the client; they must never crash the process.
    client.on("error", () => {});
    // Start even if Redis is down: commands fail fast (503) until the client has connected by itself.
    const connecting = client.connect().catch(() => {});
    await Promise.race([connecting, new Promise((r) => setTimeout(r, 2000).unref())]);
    return new RedisSessionStore(client, options);
  }

  /** `swy:s:<route>:<sha256(session id)>` */
  private key(route: string, sessionId: string): string {
    return `${this.prefix}s:${route}:${createHash("sha256").update(sessionId).digest("base64url")}`;
  }

  async get(route: string, sessionId: string): Promise<SessionRecord | undefined> {
    const value = await this.client.getEx(this.key(route, sessionId), { type: "PX", value: this.options.idleTtlMs });
    if (value === null) return undefined;
    return { ...(JSON.parse(String(value)) as Stored), lastSeenAt: Date.now() };
  }

  async learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean> {
    const { lastSeenAt: _, ...stored } = record;
    const reply = await this.client.set(this.key(route, sessionId), JSON.stringify(stored), {
      condition: "NX",
      expiration: { type: "PX", value: this.options.idleTtlMs },
    });
    return reply === "OK";
  }

  async forget(route: string, sessionId: string): Promise<void> {
    await this.client.del(this.key(route, sessionId));
  }

  /** Sessions under this store's namespace (a SCAN: for tests and operators, not the hot path). */
  async size(): Promise<number> {
    let count = 0;
    for await (const keys of this.client.scanIterator({ MATCH: `${this.prefix}s:*`, COUNT: 1000 })) {
      count += keys.length;
    }
    return count;
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
