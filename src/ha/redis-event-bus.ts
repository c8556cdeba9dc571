import { randomBytes } from "node:crypto";
import { connectSoon, newRedisClient, type RedisClient, type RedisOptions } from "../redis/client.js";

/**
 * A change event of the modern protocol (SDK v2's `ServerEvent`: `tools_list_changed`,
 * `prompts_list_changed`, `resources_list_changed`, `resource_updated` with its `uri`), described here
 * by shape so that this library does not depend on the v2 SDK.
 */
export interface ServerEventLike {
  kind: string;
  uri?: string;
  params?: Record<string, unknown>;
}

/**
 * SDK v2's `ServerEventBus` over Redis pub/sub (`<prefix>bus`): a change published on any replica
 * reaches the `subscriptions/listen` streams open on every replica. Local listeners hear it at once
 * (synchronously, as the in-memory bus does); the others through Redis. A replica never hears its own
 * event twice. While Redis is unreachable events stay local.
 */
export class RedisServerEventBus<E extends ServerEventLike = ServerEventLike> {
  private readonly listeners = new Set<(event: E) => void>();
  private readonly origin = randomBytes(9).toString("base64url");
  private readonly channel: string;

  private constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    prefix: string,
  ) {
    this.channel = `${prefix}bus`;
  }

  /** `E`: the SDK's `ServerEvent`, to be typed as its `ServerEventBus`. */
  static async connect<E extends ServerEventLike = ServerEventLike>(
    redis: string | RedisOptions,
    prefix = "swy:ha:",
  ): Promise<RedisServerEventBus<E>> {
    const options = typeof redis === "string" ? { url: redis } : redis;
    const bus = new RedisServerEventBus<E>(newRedisClient(options), newRedisClient(options), prefix);
    await connectSoon(
      Promise.all([
        bus.publisher.connect(),
        bus.subscriber.connect().then(() =>
          bus.subscriber.subscribe(bus.channel, (message) => {
            const { origin, event } = JSON.parse(message) as { origin: string; event: E };
            if (origin !== bus.origin) bus.deliver(event);
          }),
        ),
      ]),
    );
    return bus;
  }

  private deliver(event: E): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // One listener's failure does not stop delivery to the others.
      }
    }
  }

  publish(event: E): void {
    this.deliver(event);
    if (this.publisher.isReady) {
      this.publisher.publish(this.channel, JSON.stringify({ origin: this.origin, event })).catch(() => {});
    }
  }

  subscribe(listener: (event: E) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.all([this.publisher, this.subscriber].map((c) => (c.isOpen ? c.close().catch(() => {}) : undefined)));
  }
}
