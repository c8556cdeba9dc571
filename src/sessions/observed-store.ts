import { hasSubscribers, publish } from "../observability/events.js";
import type { ListedSession, RevokedSession, SessionRecord, SessionStore } from "./store.js";

/** Time one store operation and publish it as a `store` event (nothing measured when nobody listens). */
function observed<T>(op: string, work: () => Promise<T>): Promise<T> {
  if (!hasSubscribers("store")) return work();
  const started = performance.now();
  const done = (ok: boolean) => publish("store", { op, durationMs: performance.now() - started, ok });
  return work().then(
    (value) => {
      done(true);
      return value;
    },
    (err: unknown) => {
      done(false);
      throw err;
    },
  );
}

/** A session store whose operations publish their latency and failures (for metrics). */
export class ObservedStore implements SessionStore {
  readonly dbSystem: string | undefined;

  constructor(private readonly inner: SessionStore) {
    this.dbSystem = inner.dbSystem;
  }

  get(route: string, sessionId: string): Promise<SessionRecord | undefined> {
    return observed("get", () => this.inner.get(route, sessionId));
  }

  /** No I/O: nothing to time. */
  peek(route: string, sessionId: string): SessionRecord | undefined {
    return this.inner.peek(route, sessionId);
  }

  has(route: string, sessionId: string): Promise<boolean> {
    return this.inner.has(route, sessionId);
  }

  learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean> {
    return observed("learn", () => this.inner.learn(route, sessionId, record));
  }

  forget(route: string, sessionId: string): Promise<void> {
    return observed("forget", () => this.inner.forget(route, sessionId));
  }

  revoke(route: string, sessionId: string, until: number): Promise<void> {
    return observed("revoke", () => this.inner.revoke(route, sessionId, until));
  }

  revokeKey(key: string, until: number): Promise<void> {
    return observed("revoke", () => this.inner.revokeKey(key, until));
  }

  isRevoked(route: string, sessionId: string): boolean {
    return this.inner.isRevoked(route, sessionId);
  }

  reachable(): Promise<boolean> {
    return this.inner.reachable();
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  list(route: string | undefined, limit: number): Promise<{ sessions: ListedSession[]; truncated: boolean }> {
    return this.inner.list(route, limit);
  }

  revokeListed(route: string, name: string, until: number): Promise<RevokedSession | undefined> {
    return observed("revoke", () => this.inner.revokeListed(route, name, until));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
