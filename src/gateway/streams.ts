import { SwitchyardError } from "../errors.js";

/**
 * Long-lived streams open on this gateway — GET streams, HTTP+SSE streams, `subscriptions/listen` —
 * bounded by `limits.maxStreams`: each holds two sockets and buffers, so the cap bounds the memory and
 * file descriptors that idle clients can take. Past it: 503 with Retry-After.
 */
export class StreamSlots {
  private count = 0;

  constructor(private readonly max: number) {}

  take(): void {
    if (this.max > 0 && this.count >= this.max) {
      throw new SwitchyardError("SWY_TOO_MANY_STREAMS", { headers: { "retry-after": "5" } });
    }
    this.count++;
  }

  give(): void {
    this.count--;
  }

  get size(): number {
    return this.count;
  }
}
