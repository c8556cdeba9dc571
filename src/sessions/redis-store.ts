import { hash } from "node:crypto";
import {
  type RedisClient as Client,
  connectSoon,
  newRedisClient as newClient,
  type RedisOptions,
} from "../redis/client.js";
import { ConfirmedCache } from "./confirmed-cache.js";
import { Revocations, revocationKey } from "./revocations.js";
import type { SessionRecord, SessionStore } from "./store.js";

export interface RedisStoreOptions extends RedisOptions {
  idleTtlMs: number;
  /** Sessions kept in the in-process cache (least recently used beyond). */
  cacheSize?: number;
}

/** What is stored: the record minus `lastSeenAt`, which Redis's sliding TTL stands for. */
type Stored = Omit<SessionRecord, "lastSeenAt">;

/**
 * Session → replica in Redis, shared by every gateway replica. Keys are namespaced and carry a hash of
 * the session id, never the id; learning is SET NX with the idle TTL, a confirming read renews it (GETEX).
 *
 * An in-process cache keeps the hot path at zero round trips: a session confirmed less than
 * `idleTtl / 10` (at most 10 s) ago is answered from memory, older ones are confirmed again (one round
 * trip, which also slides the TTL). A forget is published on `<prefix>inv`; every gateway drops the
 * session from its cache at once. While Redis is unreachable, cached sessions are still served and the
 * rest fails fast (no offline queue); on reconnect the cache is emptied, since invalidations may have
 * been missed.
 *
 * Revoked signed session ids live in one sorted set (`<prefix>rev`: name → until when) and are announced
 * on the `<prefix>rev:new` channel; every gateway holds the whole list in memory, loaded again after each
 * (re)connection, so that checking one costs no round trip.
 */
export class RedisSessionStore implements SessionStore {
  readonly dbSystem = "redis";
  private readonly prefix: string;
  private readonly channel: string;
  private readonly cache: ConfirmedCache;
  private readonly revocations = new Revocations();
  private readonly revokedKey: string;
  private readonly revokedChannel: string;

  private constructor(
    private readonly client: Client,
    private readonly subscriber: Client,
    private readonly options: RedisStoreOptions,
  ) {
    this.prefix = options.prefix ?? "swy:";
    this.channel = `${this.prefix}inv`;
    this.cache = new ConfirmedCache(Math.min(options.idleTtlMs / 10, 10_000), options.cacheSize);
    this.revokedKey = `${this.prefix}rev`;
    this.revokedChannel = `${this.prefix}rev:new`;
  }

  static async connect(options: RedisStoreOptions): Promise<RedisSessionStore> {
    const client = newClient(options);
    const subscriber = newClient(options);
    const store = new RedisSessionStore(client, subscriber, options);
    // After any reconnection invalidations may have been missed: forget the cache.
    subscriber.on("ready", () => store.cache.clear());
    // Revocations announced while either connection was down: read the list again.
    client.on("ready", () => void store.loadRevocations());
    subscriber.on("ready", () => void store.loadRevocations());
    // Start even if Redis is down: commands fail fast (503) until the clients have connected by themselves.
    await connectSoon(
      Promise.all([
        client.connect(),
        subscriber.connect().then(() =>
          Promise.all([
            subscriber.subscribe(store.channel, (key) => {
              store.cache.delete(key);
            }),
            subscriber.subscribe(store.revokedChannel, (message) => {
              const space = message.indexOf(" ");
              store.revocations.add(message.slice(space + 1), Number(message.slice(0, space)));
            }),
          ]),
        ),
      ]).then(() => store.loadRevocations()),
    );
    return store;
  }

  /**
   * The whole revocation list into memory (dropping what has expired from Redis on the way); and back
   * into Redis, what this gateway holds that Redis lost (restarted empty, or a failover that lost the
   * last writes): a gateway started later still refuses those sessions.
   */
  private async loadRevocations(): Promise<void> {
    if (!this.client.isReady) return;
    const now = Date.now();
    try {
      await this.client.zRemRangeByScore(this.revokedKey, "-inf", now);
      const live = await this.client.zRangeWithScores(this.revokedKey, now, "+inf", { BY: "SCORE" });
      const inRedis = new Set(live.map(({ value }) => String(value)));
      const lost = this.revocations.live().filter(([key]) => !inRedis.has(key));
      for (const { value, score } of live) this.revocations.add(String(value), score);
      if (lost.length > 0) {
        await this.client.zAdd(
          this.revokedKey,
          lost.map(([value, score]) => ({ value, score })),
          { comparison: "GT" },
        );
      }
    } catch {
      // Loaded again on the next (re)connection.
    }
  }

  /** `swy:s:<route>:<sha256(session id)>` */
  private key(route: string, sessionId: string): string {
    return `${this.prefix}s:${route}:${hash("sha256", sessionId, "base64url")}`;
  }

  peek(route: string, sessionId: string): SessionRecord | undefined {
    return this.cache.fresh(this.key(route, sessionId), Date.now());
  }

  async get(route: string, sessionId: string): Promise<SessionRecord | undefined> {
    const key = this.key(route, sessionId);
    const now = Date.now();
    const fresh = this.cache.fresh(key, now);
    if (fresh) return fresh;
    let value: string | null;
    try {
      const reply = await this.client.getEx(key, { type: "PX", value: this.options.idleTtlMs });
      value = reply === null ? null : String(reply);
    } catch (err) {
      // Redis unreachable: what this gateway already knows still routes.
      const held = this.cache.held(key);
      if (held) return held;
      throw err;
    }
    if (value === null) {
      this.cache.delete(key);
      return undefined;
    }
    const record = { ...(JSON.parse(value) as Stored), lastSeenAt: now };
    this.cache.remember(key, record, now);
    return record;
  }

  async has(route: string, sessionId: string): Promise<boolean> {
    return (await this.client.exists(this.key(route, sessionId))) === 1;
  }

  async learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean> {
    const { lastSeenAt: _, ...stored } = record;
    const key = this.key(route, sessionId);
    const reply = await this.client.set(key, JSON.stringify(stored), {
      condition: "NX",
      expiration: { type: "PX", value: this.options.idleTtlMs },
    });
    if (reply !== "OK") return false;
    this.cache.remember(key, { ...record }, Date.now());
    return true;
  }

  async forget(route: string, sessionId: string): Promise<void> {
    const key = this.key(route, sessionId);
    this.cache.delete(key);
    await this.client.del(key);
    await this.client.publish(this.channel, key);
  }

  async revoke(route: string, sessionId: string, until: number): Promise<void> {
    return this.revokeKey(revocationKey(route, sessionId), until);
  }

  async revokeKey(key: string, until: number): Promise<void> {
    this.revocations.add(key, until);
    await this.client.zAdd(this.revokedKey, { score: until, value: key });
    await this.client.publish(this.revokedChannel, `${until} ${key}`);
  }

  isRevoked(route: string, sessionId: string): boolean {
    return this.revocations.hasId(route, sessionId);
  }

  /** Sessions under this store's namespace (a SCAN: for tests and operators, not the hot path). */
  /** One PING, within the command timeout (a hung Redis answers false, not never). */
  async reachable(): Promise<boolean> {
    return this.client.ping().then(
      () => true,
      () => false,
    );
  }

  async size(): Promise<number> {
    let count = 0;
    for await (const keys of this.client.scanIterator({ MATCH: `${this.prefix}s:*`, COUNT: 1000 })) {
      count += keys.length;
    }
    return count;
  }

  async close(): Promise<void> {
    await Promise.all([this.client, this.subscriber].map((c) => (c.isOpen ? c.close().catch(() => {}) : undefined)));
    this.cache.clear();
    this.revocations.close();
  }
}
