import { type GroupLedger, type LaunchSpec, StdioChild } from "./stdio-child.js";

/** A spare that keeps crashing is started again after this, doubling up to `MAX_SPARE_BACKOFF_MS`. */
const SPARE_BACKOFF_MS = 500;
const MAX_SPARE_BACKOFF_MS = 30_000;

/**
 * Every process of one `host`: counted against `--max-processes`, with one spare started ahead (when
 * allowed) so that a new session does not wait for the program's start-up. Nothing here speaks MCP.
 */
export class Processes {
  private readonly live = new Set<StdioChild>();
  private spare: StdioChild | undefined;
  private spareBackoffMs = SPARE_BACKOFF_MS;
  private spareTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Processes started since `host` started, and those that exited without being ended. */
  starts = 0;
  crashes = 0;

  constructor(
    private readonly spec: LaunchSpec,
    private readonly ledger: GroupLedger,
    private readonly options: { max: number; spare: boolean },
  ) {}

  /** Processes running now, by what they serve. */
  counts(): { session: number; pool: number; spare: number } {
    const out = { session: 0, pool: 0, spare: 0 };
    for (const c of this.live) out[c.role]++;
    return out;
  }

  get size(): number {
    return this.live.size;
  }

  /** Start the spare (at start, and after each one is taken). */
  warm(): void {
    if (!this.options.spare || this.closing || this.spare || this.spareTimer || this.live.size >= this.options.max) {
      return;
    }
    this.spare = this.start("spare");
  }

  /**
   * A process of its own for a new session (the spare if one is running); undefined when
   * `--max-processes` run already. The next spare is started behind it.
   */
  take(role: "session" | "pool", sessionId?: string): StdioChild | undefined {
    if (this.closing) return undefined;
    let child = this.spare;
    this.spare = undefined;
    if (child === undefined || !child.running) {
      if (this.live.size >= this.options.max) return undefined;
      child = this.start(role);
    }
    child.serve(role, sessionId);
    this.warm();
    return child;
  }

  /** End every process (and what each started); resolves once all exited. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.spareTimer);
    await Promise.all([...this.live].map((c) => c.end()));
  }

  private start(role: "session" | "pool" | "spare"): StdioChild {
    const child = new StdioChild(this.spec, role, this.ledger);
    this.starts++;
    this.live.add(child);
    void child.ended.then((crashed) => {
      if (crashed) this.crashes++;
      this.live.delete(child);
      if (child !== this.spare) {
        // A process that ended frees its place: a spare may be started again.
        this.warm();
        return;
      }
      // The spare itself exited before anyone took it: started again, later each time it keeps failing.
      this.spare = undefined;
      if (this.closing) return;
      this.spareTimer = setTimeout(() => {
        this.spareTimer = undefined;
        this.warm();
      }, this.spareBackoffMs);
      this.spareTimer.unref();
      this.spareBackoffMs = Math.min(MAX_SPARE_BACKOFF_MS, this.spareBackoffMs * 2);
    });
    return child;
  }
}
