import { createHash } from "node:crypto";
import { publish } from "../observability/events.js";
import { connectSoon, newRedisClient, type RedisClient, type RedisOptions } from "../redis/client.js";
import { TokenBuckets } from "./token-bucket.js";

/**
 * Requests per second per tenant: 0 when one may pass now, else the milliseconds until one may (at once
 * when the buckets are in memory, a promise when they are shared).
 */
export interface RateLimiter {
  take(tenant: string, rate: number, burst: number): number | Promise<number>;
  close(): Promise<void>;
}

/** One gateway's buckets, in memory. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new TokenBuckets();
  private readonly sweeper = setInterval(() => this.buckets.sweep(), 60_000).unref();

  take(tenant: string, rate: number, burst: number): number {
    return this.buckets.take(tenant, rate, burst);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

/** The token bucket in one atomic script, on Redis' clock (gateways' clocks may differ). */
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait`;
const TAKE_SHA = createHash("sha1").update(TAKE).digest("hex");

/**
 * Buckets shared by every gateway replica, in Redis (`<prefix>rl:<tenant>`, expiring once full again):
 * a tenant's rate is the same however its requests are spread. While Redis cannot be reached, each
 * gateway falls back on its own buckets (a tenant may then get up to its rate per gateway) rather than
 * refusing every tenant.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly fallback = new MemoryRateLimiter();

  private constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {}

  static async connect(options: RedisOptions): Promise<RedisRateLimiter> {
    const limiter = new RedisRateLimiter(newRedisClient(options), options.prefix ?? "swy:");
    await connectSoon(limiter.client.connect());
    return limiter;
  }

  async take(tenant: string, rate: number, burst: number): Promise<number> {
    if (!this.client.isReady) return this.fallback.take(tenant, rate, burst);
    const call = { keys: [`${this.prefix}rl:${tenant}`], arguments: [String(rate), String(burst)] };
    try {
      // By its SHA (the script is sent once, then only named); EVAL loads it when Redis lacks it.
      return Number(
        await this.client.evalSha(TAKE_SHA, call).catch((err: Error) => {
          if (!err.message.startsWith("NOSCRIPT")) throw err;
          return this.client.eval(TAKE, call);
        }),
      );
    } catch (err) {
      publish("fault", { where: "rate-limit", code: "SWY_STORE_ERROR", message: (err as Error).message });
      return this.fallback.take(tenant, rate, burst);
    }
  }

  async close(): Promise<void> {
    await this.fallback.close();
    if (this.client.isOpen) await this.client.close().catch(() => {});
  }
}
