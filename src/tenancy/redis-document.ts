import { connectSoon, newRedisClient, type RedisClient, type RedisOptions, topologyOf } from "../redis/client.js";
import type { TenantDocument } from "./document.js";

/**
 * Store the document if nobody changed it since revision ARGV[1]; announce the new revision (`ARGV[4]`:
 * PUBLISH, or SPUBLISH in a Cluster, where the channel shares the keys' slot).
 */
const COMPARE_AND_SET = `
local rev = tonumber(redis.call('GET', KEYS[2]) or '0')
if rev ~= tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], rev + 1)
redis.call(ARGV[4], ARGV[3], rev + 1)
return rev + 1`;

const READ = `return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}`;

/**
 * Put a copy back into a Redis that lost it (restarted empty) or holds an older one (another gateway
 * put back a stale copy first): the highest revision wins, and is announced.
 */
const RESTORE = `
local rev = tonumber(redis.call('GET', KEYS[2]) or '0')
if rev >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call(ARGV[4], ARGV[3], ARGV[2])
return 1`;

/**
 * Before hash tags (version 0.x kept the document under `<prefix>tenants` and `<prefix>tenants:rev`,
 * which a Cluster would place in different slots): copy an older gateway's document to the tagged keys
 * once, if they are empty. The old keys stay, so that a rollback finds its tenants.
 */
const ADOPT_UNTAGGED = `
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[4]) == 0 then return 0 end
redis.call('SET', KEYS[1], redis.call('GET', KEYS[3]) or '')
redis.call('SET', KEYS[2], redis.call('GET', KEYS[4]))
return 1`;

const ATTEMPTS = 10;
/** Misses within this long of a revision check share it. */
const REFRESH_MS = 100;

/**
 * The tenancy document in Redis (`{<prefix>tenants}`, with its revision in `{<prefix>tenants}:rev`:
 * one hash tag, so that they share a slot in a Cluster), shared by every gateway replica. Each gateway holds a copy in memory; a change is a compare-and-set on the
 * revision (retried on a newer copy when another gateway got there first) and is announced on
 * `{<prefix>tenants}:changed` (sharded pub/sub in a Cluster), on which every gateway reads the document again — so a tenant, key or
 * server created on one gateway works on all of them at once. The copy is read again after every
 * (re)connection. While Redis is unreachable the last copy keeps serving and changes fail (503).
 */
export class RedisDocument<T> implements TenantDocument<T> {
  private value: T;
  private rev = -1;
  private queue: Promise<unknown> = Promise.resolve();
  private refreshing: Promise<void> | undefined;
  private refreshedAt = 0;
  private readonly listeners: (() => void)[] = [];
  private readonly key: string;
  private readonly revKey: string;
  private readonly channel: string;

  private constructor(
    private readonly client: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly prefix: string,
    private readonly publishCommand: "PUBLISH" | "SPUBLISH",
    private readonly initial: () => T,
  ) {
    this.value = initial();
    this.key = `{${prefix}tenants}`;
    this.revKey = `{${prefix}tenants}:rev`;
    this.channel = `{${prefix}tenants}:changed`;
  }

  static async connect<T>(options: RedisOptions, initial: () => T): Promise<RedisDocument<T>> {
    const cluster = topologyOf(options).kind === "cluster";
    const doc = new RedisDocument<T>(
      newRedisClient(options),
      newRedisClient(options),
      options.prefix ?? "swy:",
      cluster ? "SPUBLISH" : "PUBLISH",
      initial,
    );
    doc.client.on("ready", () => void doc.reload().catch(() => {}));
    doc.subscriber.on("ready", () => void doc.reload().catch(() => {}));
    await connectSoon(
      Promise.all([
        doc.client.connect(),
        doc.subscriber.connect().then(() =>
          doc.subscriber.subscribe(doc.channel, (rev) => {
            if (Number(rev) > doc.rev) void doc.reload().catch(() => {});
          }),
        ),
      ]).then(() => doc.reload()),
    );
    return doc;
  }

  /** Read the document and its revision (one atomic script); keep it if newer than the copy. */
  private async reload(): Promise<void> {
    if (!this.client.isReady) return;
    if (this.rev < 0 && this.publishCommand === "PUBLISH") {
      await this.client.eval(ADOPT_UNTAGGED, {
        keys: [this.key, this.revKey, `${this.prefix}tenants`, `${this.prefix}tenants:rev`],
      });
    }
    const [text, rev] = (await this.client.eval(READ, { keys: [this.key, this.revKey] })) as [
      string | null,
      string | null,
    ];
    const revision = Number(rev ?? 0);
    if (revision < this.rev) {
      // Redis went back (restarted without persistence, or another gateway put back an older copy):
      // the gateways still hold the document; the highest revision is written back, so that a gateway
      // starting now finds its tenants and compare-and-set works again.
      await this.client.eval(RESTORE, {
        keys: [this.key, this.revKey],
        arguments: [JSON.stringify(this.value), String(this.rev), this.channel, this.publishCommand],
      });
      return;
    }
    if (revision <= this.rev) return;
    this.value = text === null ? this.initial() : (JSON.parse(text) as T);
    this.rev = revision;
    for (const l of this.listeners) l();
  }

  get(): T {
    return this.value;
  }

  /**
   * A miss may be a change announced a few milliseconds from now: ask Redis for the revision (one round
   * trip, shared by every miss within `REFRESH_MS`: a flood of unknown keys costs Redis nothing more).
   */
  refresh(): Promise<void> {
    const now = Date.now();
    if (this.refreshing && now - this.refreshedAt < REFRESH_MS) return this.refreshing;
    this.refreshedAt = now;
    this.refreshing = (async () => {
      if (!this.client.isReady) return;
      const rev = Number((await this.client.get(this.revKey)) ?? 0);
      if (rev > this.rev) await this.reload();
    })().catch(() => {});
    return this.refreshing;
  }

  /** Changes from this gateway go one at a time (they would only collide); other gateways' are retried. */
  update<R>(change: (doc: T) => R): Promise<R> {
    const result = this.queue.then(() => this.apply(change));
    this.queue = result.catch(() => {});
    return result;
  }

  private async apply<R>(change: (doc: T) => R): Promise<R> {
    if (this.rev < 0) await this.reload();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      const next = structuredClone(this.value);
      const result = change(next);
      const stored = (await this.client.eval(COMPARE_AND_SET, {
        keys: [this.key, this.revKey],
        arguments: [String(this.rev), JSON.stringify(next), this.channel, this.publishCommand],
      })) as number;
      if (stored >= 0) {
        if (stored > this.rev) {
          this.value = next;
          this.rev = stored;
          for (const l of this.listeners) l();
        }
        return result;
      }
      await this.reload();
    }
    throw new Error("the tenancy document kept changing under this update");
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await Promise.all([this.client, this.subscriber].map((c) => (c.isOpen ? c.close().catch(() => {}) : undefined)));
  }
}
