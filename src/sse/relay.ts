import type { ServerResponse } from "node:http";
import { HEARTBEAT, SseBoundary } from "./boundary.js";

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Writes an upstream SSE stream to the client byte for byte (but for a BOM a heartbeat went before,
 * see `head`), and a `:` heartbeat comment after
 * `intervalMs` of silence — only between events, and only when the client has taken everything written
 * so far (a heartbeat never queues behind data).
 */
export class SseRelay {
  private readonly boundary = new SseBoundary();
  private lastWrite = Date.now();
  private timer: NodeJS.Timeout | undefined;
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
    if (intervalMs > 0) this.arm(intervalMs);
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    // A shared function with the relay as argument: no closure per stream.
    this.timer = setTimeout(tick, ms, this);
  }

  /** Called when the idle timer fires. */
  tick(): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    const idle = Date.now() - this.lastWrite;
    if (idle < this.intervalMs) {
      this.arm(this.intervalMs - idle);
      return;
    }
    if (this.boundary.atBoundary && this.res.writableLength === 0) {
      this.res.write(HEARTBEAT);
      this.boundary.heartbeatWritten();
      if (!this.started) this.head ??= Buffer.alloc(0);
      this.lastWrite = Date.now();
    }
    this.arm(this.intervalMs);
  }
}

function tick(relay: SseRelay): void {
  relay.tick();
}
