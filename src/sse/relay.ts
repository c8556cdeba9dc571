import type { ServerResponse } from "node:http";
import { HEARTBEAT, SseBoundary } from "./boundary.js";

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * One timer per heartbeat interval for all the relays open with it, not one per stream: it looks at each
 * relay ten times per interval, and one silent for the interval gets its heartbeat (after between one
 * and 1.1 intervals of silence). A timer per stream would cost a `Timeout` for every idle
 * stream held and a timer set and cleared for every answer streamed.
 */
class HeartbeatWheel {
  private readonly relays = new Set<SseRelay>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  add(relay: SseRelay): void {
    this.relays.add(relay);
    if (this.timer === undefined) {
      this.timer = setInterval(sweep, Math.max(10, Math.floor(this.intervalMs / 10)), this.relays);
      this.timer.unref();
    }
  }

  delete(relay: SseRelay): void {
    this.relays.delete(relay);
    if (this.relays.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function sweep(relays: Set<SseRelay>): void {
  for (const relay of relays) relay.tick();
}

const wheels = new Map<number, HeartbeatWheel>();

function wheelFor(intervalMs: number): HeartbeatWheel {
  let wheel = wheels.get(intervalMs);
  if (wheel === undefined) {
    wheel = new HeartbeatWheel(intervalMs);
    wheels.set(intervalMs, wheel);
  }
  return wheel;
}

/**
 * Writes an upstream SSE stream to the client byte for byte (but for a BOM a heartbeat went before,
 * see `head`), and a `:` heartbeat comment after
 * `intervalMs` of silence — only between events, and only when the client has taken everything written
 * so far (a heartbeat never queues behind data).
 */
export class SseRelay {
  private readonly boundary = new SseBoundary();
  private lastWrite = Date.now();
  /** The heartbeat timer this relay is on, until it stops (none with `intervalMs` 0). */
  private wheel: HeartbeatWheel | undefined;
  /** Whether any of the upstream's bytes went out. */
  private started = false;
  /**
   * After a heartbeat sent before the upstream's first byte: the upstream's first bytes while they may
   * still be a UTF-8 BOM. A client drops a BOM only at the very start of the stream; after the heartbeat
   * it would spoil the first field's name, so it is dropped here (a held partial one ends no line).
   */
  private head: Buffer | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly intervalMs: number,
  ) {
    if (intervalMs > 0) {
      this.wheel = wheelFor(intervalMs);
      this.wheel.add(this);
    }
  }

  /** Same contract as `res.write`: false means "wait for drain". */
  write(chunk: Buffer): boolean {
    if (this.head !== undefined) {
      chunk = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      if (chunk.length < BOM.length && BOM.subarray(0, chunk.length).equals(chunk)) {
        this.head = chunk;
        return true;
      }
      this.head = undefined;
      this.started = true;
      if (chunk.subarray(0, BOM.length).equals(BOM)) chunk = chunk.subarray(BOM.length);
      if (chunk.length === 0) return true;
    }
    this.started ||= chunk.length > 0;
    this.boundary.push(chunk);
    this.lastWrite = Date.now();
    return this.res.write(chunk);
  }

  stop(): void {
    this.wheel?.delete(this);
    this.wheel = undefined;
  }

  /** The heartbeat timer's look: a heartbeat if the stream was silent for the interval. */
  tick(): void {
    if (this.res.destroyed || this.res.writableEnded) {
      this.stop();
      return;
    }
    if (Date.now() - this.lastWrite < this.intervalMs) return;
    if (this.boundary.atBoundary && this.res.writableLength === 0) {
      this.res.write(HEARTBEAT);
      this.boundary.heartbeatWritten();
      if (!this.started) this.head ??= Buffer.alloc(0);
      this.lastWrite = Date.now();
    }
  }
}
