import type { SessionRecord, SessionStore } from "../sessions/store.js";

type End = (member: string, session: string, record: SessionRecord | undefined) => Promise<void>;

/**
 * Idle expiry of a virtual server's member sessions: each used through this process is remembered with
 * when it was last used here; one timer looks at them a few times per `sessions.idleTtl`, and the
 * member sessions of a virtual session that is gone from the store (idle that long everywhere: another
 * gateway replica using it keeps it there) are ended.
 */
export class IdleExpiry {
  private readonly used = new Map<
    string,
    { member: string; session: string; record: SessionRecord | undefined; at: number }
  >();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly virtual: string,
    private readonly idleTtlMs: number,
    private readonly end: End,
  ) {}

  /** A virtual session's member session was used here now (its record: where it lives). */
  touch(member: string, session: string, record?: SessionRecord): void {
    const key = `${member}\u0000${session}`;
    const entry = this.used.get(key);
    if (entry) {
      entry.at = Date.now();
      if (record) entry.record = record;
      return;
    }
    this.used.set(key, { member, session, record, at: Date.now() });
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(250, this.idleTtlMs / 4)));
      this.sweeper.unref();
    }
  }

  /** Ended otherwise (DELETE): no longer watched. */
  forget(member: string, session: string): void {
    this.used.delete(`${member}\u0000${session}`);
  }

  stop(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [key, entry] of this.used) {
      if (now - entry.at < this.idleTtlMs) continue;
      if (await this.store.has(this.virtual, entry.session).catch(() => true)) continue;
      this.used.delete(key);
      // Its record has expired with it: the one last used here says where the member session lives.
      await this.end(entry.member, entry.session, entry.record);
    }
    if (this.used.size === 0) this.stop();
  }
}
