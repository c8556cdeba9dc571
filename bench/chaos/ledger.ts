/**
 * What the chaos run counts (pure): every request's one outcome, with when it was in flight; the invariant
 * violations (which must be none); each fault's span and recovery; peak memory. Which fault caused which
 * outcome is worked out afterwards, from the times (attribution.ts).
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
  /** The connection was refused or reset, or a stream ended before its answer (a process killed on purpose). */
  | "network";

export const OUTCOMES: readonly Outcome[] = ["ok", "reinit", "refused", "rpc-error", "network"];

/** One request's outcome. Times are ms since the run started. */
export interface OutcomeEvent {
  workload: string;
  outcome: Outcome;
  /** The HTTP status of a `reinit` (404) or a `refused`. */
  status?: number;
  /**
   * Since when the cause may have been at work: the request's start; for a `reinit`, the session's last
   * good answer (a session lost during a fault is only found lost on its next use).
   */
  fromMs: number;
  /** When the outcome was known. */
  atMs: number;
}

export type ViolationKind =
  | "hang"
  | "wrong-session"
  | "silent-move"
  | "wrong-tenant"
  | "unshaped-error"
  | "crash"
  | "memory"
  | "slow-client-kept"
  | "not-recovered"
  /** A reinit, refusal, JSON-RPC error or network error while no fault (nor its grace) was under way. */
  | "outside-fault"
  /** An exception that is no network outcome: a bug of the harness, or an answer it could not read. */
  | "harness-exception";

export interface Violation {
  kind: ViolationKind;
  workload: string;
  detail: string;
  atMs: number;
}

export interface FaultRecord {
  fault: string;
  /** When the fault was injected (ms since the run started). */
  startMs: number;
  /** How long the fault itself lasted (the process down, the replica paused, …). */
  durationMs: number;
  /** From the fault's start until every probe (each pool through each gateway) succeeded again. */
  recoveryMs: number | undefined;
}

export class Ledger {
  readonly started = Date.now();
  readonly events: OutcomeEvent[] = [];
  readonly violations: Violation[] = [];
  readonly faults: FaultRecord[] = [];
  peakRssBytes = 0;

  /** Milliseconds since the run started. */
  now(): number {
    return Date.now() - this.started;
  }

  record(workload: string, outcome: Outcome, fromMs: number, status?: number): void {
    const event: OutcomeEvent = { workload, outcome, fromMs, atMs: this.now() };
    if (status !== undefined) event.status = status;
    this.events.push(event);
  }

  violate(kind: ViolationKind, workload: string, detail: string): void {
    this.violations.push({ kind, workload, detail, atMs: this.now() });
  }

  get sent(): number {
    return this.events.length;
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
