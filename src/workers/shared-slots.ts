import { LocalSlots, type SlotCounter } from "../gateway/streams.js";
import type { PrimaryChannel } from "./ipc.js";

/**
 * Limits that mean the whole gateway under `--workers` (`limits.maxStreams`, a tenant's `streams`
 * quota, the diagnostic streams): the primary counts every worker's slots. Opening a stream costs one
 * round trip to the primary; a request that is not a stream costs nothing.
 */
export class WorkerSlots implements SlotCounter {
  constructor(private readonly primary: PrimaryChannel) {}

  take(key: string, max: number): Promise<boolean> {
    return this.primary.ask<boolean>({ op: "slots.take", key, max });
  }

  give(key: string): void {
    this.primary.send({ swy: "note", note: { op: "slots.give", key } });
  }
}

/** The primary's count, with each worker's share: a worker that dies gives back every slot it held. */
export class SlotBook {
  private readonly total = new LocalSlots();
  private readonly heldBy = new Map<number, Map<string, number>>();

  take(worker: number, key: string, max: number): boolean {
    if (!this.total.take(key, max)) return false;
    const held = this.heldBy.get(worker) ?? new Map<string, number>();
    this.heldBy.set(worker, held);
    held.set(key, (held.get(key) ?? 0) + 1);
    return true;
  }

  give(worker: number, key: string): void {
    const held = this.heldBy.get(worker);
    const n = held?.get(key);
    if (!held || n === undefined) return;
    if (n <= 1) held.delete(key);
    else held.set(key, n - 1);
    this.total.give(key);
  }

  /** The worker is gone: its streams ended with it. */
  release(worker: number): void {
    for (const [key, n] of this.heldBy.get(worker) ?? []) for (let i = 0; i < n; i++) this.total.give(key);
    this.heldBy.delete(worker);
  }
}
