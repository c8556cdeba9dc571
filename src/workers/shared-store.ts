import type { MemorySessionStore } from "../sessions/memory-store.js";
import type { SessionRecord } from "../sessions/store.js";
import type { Ask, Tell } from "./ipc.js";

/**
 * The primary's side of the embedded store shared by the workers: the one memory store of the gateway,
 * asked by the workers (`WorkerSessionStore`); a forget or a revocation is told to every worker at once.
 */
export class SharedStore {
  constructor(
    private readonly store: MemorySessionStore,
    private readonly tellAll: (tell: Tell) => void,
  ) {}

  /** The answer to a worker's question. */
  async answer(ask: Ask): Promise<unknown> {
    const s = this.store;
    switch (ask.op) {
      case "store.get":
        return (await s.get(ask.route, ask.sid)) ?? null;
      case "store.has":
        return s.has(ask.route, ask.sid);
      case "store.learn":
        return s.learn(ask.route, ask.sid, ask.record as SessionRecord);
      case "store.forget":
        await s.forget(ask.route, ask.sid);
        this.tellAll({ op: "store.forgotten", route: ask.route, sid: ask.sid });
        return null;
      case "store.revokeKey":
        await s.revokeKey(ask.key, ask.until);
        this.tellAll({ op: "store.revoked", key: ask.key, until: ask.until });
        return null;
      case "store.size":
        return s.size();
      case "store.revocations":
        return s.revocationList();
      case "store.list":
        return s.list(ask.route, ask.limit);
      case "store.revokeListed": {
        // Found once; the workers are told the id to forget.
        const sid = s.findListed(ask.route, ask.name);
        const revoked = sid === undefined ? undefined : await s.revokeId(ask.route, sid, ask.until);
        if (sid === undefined || revoked?.revocation === undefined) return null;
        this.tellAll({ op: "store.forgotten", route: ask.route, sid });
        this.tellAll({ op: "store.revoked", key: revoked.revocation, until: ask.until });
        return revoked;
      }
    }
  }
}
