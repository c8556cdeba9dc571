import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

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

/** A stream that may stay open for hours: it takes a stream slot and is not waited for at shutdown. */
export function holdStream(ctx: RequestContext, gw: GatewayState): void {
  gw.streams.take();
  ctx.stream = true;
  if (ctx.inFlight) {
    ctx.inFlight = false;
    gw.inFlight.leave();
  }
}
