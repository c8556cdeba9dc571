import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

/**
 * Where bounded slots are counted (open streams, a tenant's streams, diagnostic streams): in this process
 * (`LocalSlots`), or for the whole gateway under `--workers` in the primary (`workers/shared-slots.ts`),
 * so that a limit means the gateway whatever the worker count.
 */
export interface SlotCounter {
  /** One of `max` slots under `key` (0: unbounded): false when all are taken (a promise when shared). */
  take(key: string, max: number): boolean | Promise<boolean>;
  give(key: string): void;
}

/** Slots counted in this process. */
export class LocalSlots implements SlotCounter {
  private readonly counts = new Map<string, number>();

  take(key: string, max: number): boolean {
    const open = this.counts.get(key) ?? 0;
    if (max > 0 && open >= max) return false;
    this.counts.set(key, open + 1);
    return true;
  }

  give(key: string): void {
    const open = (this.counts.get(key) ?? 1) - 1;
    if (open <= 0) this.counts.delete(key);
    else this.counts.set(key, open);
  }

  /** Slots taken now under `key`. */
  held(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Every key with slots taken, and how many. */
  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }
}

/**
 * Long-lived streams open on this gateway — GET streams, HTTP+SSE streams, `subscriptions/listen` —
 * bounded by `limits.maxStreams`: each holds two sockets and buffers, so the cap bounds the memory and
 * file descriptors that idle clients can take. Past it: 503 with Retry-After. `size` is this process's
 * (the metric sums the workers').
 */
export class StreamSlots {
  private count = 0;

  constructor(
    private readonly key: string,
    private readonly max: number,
    private readonly counter: SlotCounter = new LocalSlots(),
  ) {}

  /** A slot, or SWY_TOO_MANY_STREAMS (a promise when the gateway's workers share the count). */
  take(): void | Promise<void> {
    const taken = this.counter.take(this.key, this.max);
    if (typeof taken === "boolean") return this.admit(taken);
    return taken.then((ok) => this.admit(ok));
  }

  give(): void {
    this.count--;
    this.counter.give(this.key);
  }

  get size(): number {
    return this.count;
  }

  private admit(ok: boolean): void {
    if (!ok) throw new SwitchyardError("SWY_TOO_MANY_STREAMS", { headers: { "retry-after": "5" } });
    this.count++;
  }
}

/**
 * A stream that may stay open for hours: it takes a stream slot and is not waited for at shutdown. A
 * slot granted after the client left (while the workers' primary answered) goes back at once.
 */
export function holdStream(ctx: RequestContext, gw: GatewayState): void | Promise<void> {
  const taken = gw.streams.take();
  if (!taken) return held(ctx, gw);
  return taken.then(() => held(ctx, gw));
}

function held(ctx: RequestContext, gw: GatewayState): void {
  if (ctx.res.closed) {
    gw.streams.give();
    return;
  }
  ctx.stream = true;
  if (ctx.inFlight) {
    ctx.inFlight = false;
    gw.inFlight.leave();
  }
}
