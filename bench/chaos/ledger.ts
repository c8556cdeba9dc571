/**
 * What the chaos run counts (pure): every request's one outcome, per workload; the invariant violations
 * (which must be none); each fault's recovery; peak memory.
 */
export type Outcome =
  /** Answered as expected. */
  | "ok"
  /** 404 for a session: the client started a new one (a replica or Redis lost it: allowed, never silent). */
  | "reinit"
  /** A spec-shaped refusal: 4xx/5xx with a JSON-RPC error body (429, 502, 503, 504, …). */
  | "refused"
  /** A JSON-RPC error in an answer (e.g. -32003: the outcome of a call on a dead replica is unknown). */
  | "rpc-error"
  /** The connection was refused or reset (a gateway killed on purpose). */
  | "network";

export type ViolationKind =
  | "hang"
  | "wrong-session"
  | "silent-move"
  | "wrong-tenant"
  | "unshaped-error"
  | "crash"
  | "memory"
  | "slow-client-kept"
  | "not-recovered";

export interface Violation {
  kind: ViolationKind;
  workload: string;
  detail: string;
  atMs: number;
}

export interface FaultRecord {
  fault: string;
  /** How long the fault itself lasted (the process down, the replica paused, …). */
  durationMs: number;
  /** From the fault's start until every probe (each pool through each gateway) succeeded again. */
  recoveryMs: number | undefined;
}

export class Ledger {
  readonly started = Date.now();
  readonly outcomes = new Map<string, Record<Outcome, number>>();
  /** Refusals by workload and HTTP status. */
  readonly refusals = new Map<string, Record<string, number>>();
  readonly violations: Violation[] = [];
  readonly faults: FaultRecord[] = [];
  peakRssBytes = 0;

  refused(workload: string, status: number): void {
    this.record(workload, "refused");
    const row = this.refusals.get(workload) ?? {};
    row[status] = (row[status] ?? 0) + 1;
    this.refusals.set(workload, row);
  }

  record(workload: string, outcome: Outcome): void {
    let row = this.outcomes.get(workload);
    if (!row) {
      row = { ok: 0, reinit: 0, refused: 0, "rpc-error": 0, network: 0 };
      this.outcomes.set(workload, row);
    }
    row[outcome]++;
  }

  violate(kind: ViolationKind, workload: string, detail: string): void {
    this.violations.push({ kind, workload, detail, atMs: Date.now() - this.started });
  }

  get sent(): number {
    let n = 0;
    for (const row of this.outcomes.values()) for (const v of Object.values(row)) n += v;
    return n;
  }
}

/**
 * A session's counter after a call (the server counts calls per session): exactly one more than the
 * calls known to have run, or up to `uncertain` more (calls whose outcome the client could not know:
 * they may have run). Less, or more, is another session's counter — or a lost one.
 */
export function counterConsistent(seen: number, known: number, uncertain: number): boolean {
  return seen >= known + 1 && seen <= known + 1 + uncertain;
}
