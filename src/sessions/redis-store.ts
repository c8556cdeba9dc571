import {
  type RedisClient as Client,
  connectSoon,
  newRedisClient as newClient,
  type RedisOptions,
} from "../redis/client.js";
import { ConfirmedCache } from "./confirmed-cache.js";
import { Revocations, revocationKey, sessionName } from "./revocations.js";
import type { ListedSession, RevokedSession, SessionRecord, SessionStore } from "./store.js";

export interface RedisStoreOptions extends RedisOptions {
  idleTtlMs: number;
  /** Sessions kept in the in-process cache (least recently used beyond). */
  cacheSize?: number;
}

/**
 * What is stored: the record minus `lastSeenAt`, which Redis's sliding TTL stands for, plus the name of
 * its revocation (`rev`, a hash of route and id): an operator who lists sessions holds no id, and
 * revokes one by its key. (Records written before `rev` existed are forgotten on revocation, no more.)
 */
type Stored = Omit<SessionRecord, "lastSeenAt"> & { rev?: string };

/** The record `get` answers: without the store's own field. */
function recordOf(value: string, lastSeenAt: number): SessionRecord {
  const { rev: _, ...stored } = JSON.parse(value) as Stored;
  return { ...stored, lastSeenAt };
}

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

  /** `swy:s:<route>:<sha256(session id)>` (the hash: the session's listed name) */
  private key(route: string, sessionId: string): string {
    return this.keyOf(route, sessionName(sessionId));
  }

  private keyOf(route: string, name: string): string {
    return `${this.prefix}s:${route}:${name}`;
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
    const record = recordOf(value, now);
    this.cache.remember(key, record, now);
    return record;
  }

  async has(route: string, sessionId: string): Promise<boolean> {
    return (await this.client.exists(this.key(route, sessionId))) === 1;
  }

  async learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean> {
    const { lastSeenAt: _, ...fields } = record;
    const stored: Stored = { ...fields, rev: revocationKey(route, sessionId) };
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

  /**
   * A SCAN of this namespace's session keys (every primary of a Cluster), then each record and its TTL:
   * its idle time is what the sliding TTL has used up (to within the cache's confirmation window).
   */
  async list(route: string | undefined, limit: number): Promise<{ sessions: ListedSession[]; truncated: boolean }> {
    const pattern = `${this.prefix}s:${route === undefined ? "" : `${escapeGlob(route)}:`}*`;
    const keys: string[] = [];
    let truncated = false;
    // Read a little past the limit: keys that expired between the SCAN and the read are left out.
    for await (const found of this.client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      keys.push(...found.map(String));
      if (keys.length > limit * 2 + 100) {
        truncated = true;
        break;
      }
    }
    const now = Date.now();
    const read = await Promise.all(
      keys.map(async (key) => {
        const [value, ttl] = await Promise.all([this.client.get(key), this.client.pTTL(key)]);
        if (value === null || ttl < 0) return undefined;
        const name = key.slice(key.lastIndexOf(":") + 1);
        return { name, record: recordOf(String(value), now - Math.max(0, this.options.idleTtlMs - ttl)) };
      }),
    );
    const sessions = read
      .filter((s): s is ListedSession => s !== undefined)
      .sort((a, b) => b.record.lastSeenAt - a.record.lastSeenAt);
    return { sessions: sessions.slice(0, limit), truncated: truncated || sessions.length > limit };
  }

  async revokeListed(route: string, name: string, until: number): Promise<RevokedSession | undefined> {
    const key = this.keyOf(route, name);
    const value = await this.client.getDel(key);
    if (value === null) return undefined;
    this.cache.delete(key);
    await this.client.publish(this.channel, key);
    const { rev: revocation, replica } = JSON.parse(String(value)) as Stored;
    if (revocation !== undefined) await this.revokeKey(revocation, until);
    return { revocation, replica };
  }

  async close(): Promise<void> {
    await Promise.all([this.client, this.subscriber].map((c) => (c.isOpen ? c.close().catch(() => {}) : undefined)));
    this.cache.clear();
    this.revocations.close();
  }
}

/** A route name as a literal in a SCAN pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
