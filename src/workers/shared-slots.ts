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
  private readonly byWorker = new Map<number, LocalSlots>();

  take(worker: number, key: string, max: number): boolean {
    if (!this.total.take(key, max)) return false;
    const mine = this.byWorker.get(worker) ?? new LocalSlots();
    this.byWorker.set(worker, mine);
    mine.take(key, 0);
    return true;
  }

  give(worker: number, key: string): void {
    const mine = this.byWorker.get(worker);
    if (!mine || mine.held(key) === 0) return;
    mine.give(key);
    this.total.give(key);
  }

  /** The worker is gone: its streams ended with it. */
  release(worker: number): void {
    for (const [key, n] of this.byWorker.get(worker)?.entries() ?? []) for (let i = 0; i < n; i++) this.total.give(key);
    this.byWorker.delete(worker);
  }
}
