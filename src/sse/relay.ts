import type { ServerResponse } from "node:http";
import { HEARTBEAT, SseBoundary } from "./boundary.js";

/**
 * Writes an upstream SSE stream to the client byte for byte, and a `:` heartbeat comment after
 * `intervalMs` of silence — only between events, and only when the client has taken everything written
 * so far (a heartbeat never queues behind data).
 */
export class SseRelay {
  private readonly boundary = new SseBoundary();
  private lastWrite = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly intervalMs: number,
  ) {
    if (intervalMs > 0) this.arm(intervalMs);
  }

  /** Same contract as `res.write`: false means "wait for drain". */
  write(chunk: Buffer): boolean {
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
      this.lastWrite = Date.now();
    }
    this.arm(this.intervalMs);
  }
}

function tick(relay: SseRelay): void {
  relay.tick();
}
