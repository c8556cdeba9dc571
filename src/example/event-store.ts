import type { EventId, EventStore, StreamId } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/**
 * The example server's memory of the events it sent, so that a client whose stream broke can resume
 * it with `Last-Event-ID` (the SDK replays what followed). Bounded: the oldest events go first.
 */
export class MemoryEventStore implements EventStore {
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage }>();
  private next = 0;

  constructor(private readonly capacity = 10_000) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}_${String(++this.next).padStart(12, "0")}`;
    this.events.set(id, { streamId, message });
    if (this.events.size > this.capacity) {
      const oldest = this.events.keys().next();
      if (!oldest.done) this.events.delete(oldest.value);
    }
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.events.get(lastEventId);
    if (!last) return "";
    let after = false;
    for (const [id, event] of this.events) {
      if (id === lastEventId) after = true;
      // Priming events (SEP-1699) are stored as `{}`: nothing to replay.
      else if (after && event.streamId === last.streamId && Object.keys(event.message).length > 0) {
        await send(id, event.message);
      }
    }
    return last.streamId;
  }
}
