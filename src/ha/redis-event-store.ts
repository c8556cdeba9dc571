import type { EventId, EventStore, StreamId } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { RedisClient } from "../redis/client.js";

export interface RedisEventStoreOptions {
  /** Namespace of the keys (default `swy:ha:`). */
  prefix?: string;
  /** Events kept per stream at most (approximately; the oldest go first). */
  maxEvents?: number;
  /** A stream untouched this long is dropped (ms). */
  ttlMs?: number;
}

/** `STREAM_ID` `_` `REDIS_ENTRY_ID` (the entry id, `ms-seq`, holds no `_`). */
function parseEventId(eventId: EventId): { streamId: StreamId; entry: string } | undefined {
  const i = eventId.lastIndexOf("_");
  if (i <= 0 || !/^\d+-\d+$/.test(eventId.slice(i + 1))) return undefined;
  return { streamId: eventId.slice(0, i), entry: eventId.slice(i + 1) };
}

/**
 * The SDK's `EventStore` on Redis Streams, shared by every node: one Redis stream per SDK stream of a
 * session (`<prefix>ev:<session>:<stream>`), bounded in length and expiring when unused. A client that
 * reconnects with `Last-Event-ID` to any node gets exactly the events that followed, once, in order, on
 * the stream it names.
 */
export class RedisEventStore implements EventStore {
  private readonly prefix: string;
  private readonly maxEvents: number;
  private readonly ttlMs: number;

  constructor(
    private readonly client: RedisClient,
    private readonly sessionId: string,
    options: RedisEventStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? "swy:ha:";
    this.maxEvents = options.maxEvents ?? 1000;
    this.ttlMs = options.ttlMs ?? 15 * 60_000;
  }

  private key(streamId: StreamId): string {
    return `${this.prefix}ev:${this.sessionId}:${streamId}`;
  }

  /**
   * Store an event; its id names the stream and the Redis entry. While Redis cannot be reached the event
   * still goes out live, under an id that cannot be resumed from: live delivery never waits on Redis,
   * only resumption does.
   */
  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const key = this.key(streamId);
    try {
      const [entry] = (await this.client
        .multi()
        .xAdd(
          key,
          "*",
          { m: JSON.stringify(message) },
          { TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: this.maxEvents } },
        )
        .pExpire(key, this.ttlMs)
        .exec()) as unknown as [string, number];
      return `${streamId}_${entry}`;
    } catch {
      return `${streamId}_unstored`;
    }
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return parseEventId(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = parseEventId(lastEventId);
    if (!parsed) return "";
    const entries = await this.client.xRange(this.key(parsed.streamId), `(${parsed.entry}`, "+");
    for (const { id, message } of entries ?? []) {
      const value = JSON.parse(String(message.m)) as JSONRPCMessage;
      // Priming events (SEP-1699) are stored as `{}`: nothing to replay.
      if (Object.keys(value).length > 0) await send(`${parsed.streamId}_${id}`, value);
    }
    return parsed.streamId;
  }
}
