/**
 * What a worker and the primary say to each other over the cluster's IPC channel (JSON). A worker asks
 * (`ask`), the primary answers (`answer`) or tells every worker (`tell`). One file: the whole protocol.
 */
export type Ask =
  | { op: "store.get" | "store.has" | "store.forget"; route: string; sid: string }
  | { op: "store.learn"; route: string; sid: string; record: unknown }
  | { op: "store.revokeKey"; key: string; until: number }
  | { op: "store.size" }
  | { op: "store.list"; route: string | undefined; limit: number }
  | { op: "store.revokeListed"; route: string; name: string; until: number }
  | { op: "store.revocations" }
  /** The tenancy document (`shared-tenancy.ts`): read it; store it if nobody changed revision `rev`. */
  | { op: "tenancy.read" }
  | { op: "tenancy.cas"; rev: number; doc: unknown }
  | { op: "ledger.add"; tenant: string; entry: unknown }
  | { op: "ledger.remove"; tenant: string; id: string }
  | { op: "ledger.list" | "ledger.count"; tenant: string }
  /** A tenant's request: 0 when it may pass, else the ms until it may. */
  | { op: "rate.take"; tenant: string; rate: number; burst: number }
  /** Routes with `command` (`shared-hosts.ts`): their hosts' URLs, started if need be; end the others. */
  | { op: "hosts.prepare"; routes: Record<string, unknown>; logLevel: string }
  | { op: "hosts.settle"; routes: string[] }
  /** One of `max` slots under `key`, counted over every worker (`shared-slots.ts`): true if taken. */
  | { op: "slots.take"; key: string; max: number }
  /**
   * What every worker holds, merged (`gather.ts`): the metrics (Prometheus text, counters summed), or
   * the admin API's overview (traffic and requests in flight summed).
   */
  | { op: "gather"; what: Gathered };

export type Tell =
  /** A session forgotten by some worker: drop it from every cache. */
  | { op: "store.forgotten"; route: string; sid: string }
  /** A revocation, in force in every worker at once. */
  | { op: "store.revoked"; key: string; until: number }
  /** A replica's health as some worker saw it change (or, to a worker that starts, as it is). */
  | { op: "health.state"; state: HealthState }
  /** The tenancy document's new revision. */
  | { op: "tenancy.changed"; doc: unknown; rev: number }
  /** To a worker that starts: a replica the others still drain (it left the DNS answer before). */
  | { op: "membership.draining"; route: string; replica: string }
  /** A DNS entry's new answer, as some worker resolved it. */
  | { op: "dns.answer"; answer: DnsAnswer }
  /** This worker runs the gateway's active health checks (or stops running them). */
  | { op: "health.lead"; lead: boolean }
  /** Hand over what you hold of `what` (`CollectedMessage`, same id). */
  | { op: "collect"; what: Gathered; id: number };

/** What the primary gathers from every worker. */
export type Gathered = "metrics" | "overview";

export interface HealthState {
  route: string;
  replica: string;
  healthy: boolean;
  /** When it went down (its older sessions get 404 everywhere). */
  downAt: number;
}

export interface DnsAnswer {
  route: string;
  name: string;
  replicas: Array<[url: string, host: string]>;
}

export interface AskMessage {
  swy: "ask";
  id: number;
  ask: Ask;
}
export interface AnswerMessage {
  swy: "answer";
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}
export interface TellMessage {
  swy: "tell";
  tell: Tell;
}
/** A worker listening: the primary announces the gateway once every worker is. */
export interface ListeningMessage {
  swy: "listening";
  url: string;
  event: Record<string, unknown>;
}

/** A replica's health changed in this worker (the primary tells the others). */
export interface HealthMessage {
  swy: "health";
  state: HealthState;
}

/** A DNS entry's answer changed in this worker (the primary tells the others). */
export interface DnsMessage {
  swy: "dns";
  answer: DnsAnswer;
}

/** A replica's state in a pool changed in this worker (the primary keeps the draining ones). */
export interface MembershipMessage {
  swy: "membership";
  route: string;
  replica: string;
  state: "joining" | "serving" | "draining" | "gone";
}

/** A worker's own share (its metrics, its overview), for the primary to merge with the others'. */
export interface CollectedMessage {
  swy: "collected";
  id: number;
  value: unknown;
}

/** What a worker tells the primary, with no answer: a slot it took is free; a tenant's session was used. */
export type Note = { op: "slots.give"; key: string } | { op: "ledger.touch"; tenant: string; id: string };
export interface NoteMessage {
  swy: "note";
  note: Note;
}

export type WorkerMessage =
  | AskMessage
  | ListeningMessage
  | HealthMessage
  | DnsMessage
  | MembershipMessage
  | CollectedMessage
  | NoteMessage;
export type PrimaryMessage = AnswerMessage | TellMessage;

export function isMessage<T extends { swy: string }>(m: unknown, kind: T["swy"]): m is T {
  return typeof m === "object" && m !== null && (m as { swy?: unknown }).swy === kind;
}

/** The worker's side: questions to the primary, each answered once (or failed when the channel closes). */
export class PrimaryChannel {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners: Array<(tell: Tell) => void> = [];

  constructor(private readonly proc: NodeJS.Process = process) {
    proc.on("message", (m: unknown) => {
      if (isMessage<AnswerMessage>(m, "answer")) {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error ?? "the primary refused"));
      } else if (isMessage<TellMessage>(m, "tell")) {
        for (const l of this.listeners) l(m.tell);
      }
    });
    proc.on("disconnect", () => {
      for (const p of this.pending.values()) p.reject(new Error("the primary is gone"));
      this.pending.clear();
    });
  }

  ask<T>(ask: Ask): Promise<T> {
    if (!this.proc.connected || !this.proc.send) return Promise.reject(new Error("the primary is gone"));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send?.({ swy: "ask", id, ask } satisfies AskMessage);
    });
  }

  onTell(listener: (tell: Tell) => void): void {
    this.listeners.push(listener);
  }

  send(message: WorkerMessage): void {
    if (this.proc.connected) this.proc.send?.(message);
  }
}
