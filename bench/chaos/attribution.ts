/**
 * Which fault caused which outcome (pure). Each fault has a window: from its injection until GRACE_MS after
 * it is over — over meaning both that the fault itself ended (the process restarted, the replica resumed)
 * and that the service was measured normal again. An outcome belongs to the window it happened in: the one
 * its request was in flight during (for a `reinit`, since the session's last good answer). Anything but
 * `ok` that belongs to no window is a violation: with no fault under way, every request must succeed.
 */
import { type FaultRecord, OUTCOMES, type Outcome, type OutcomeEvent, type Violation } from "./ledger.js";

/**
 * After a fault is over — it ended, and the probes succeeded again — how long its effects may still be
 * seen by requests sent after that. (A request in flight during the window belongs to it by its span,
 * however late it fails; a lost session by its last good answer.) The probes reach one replica of each
 * pool through each gateway, not every replica: a switchyard/ha node they missed may still be reconnecting
 * to a restarted Redis, and its client retries with a backoff capped at 2 s (src/redis/client.ts) — so
 * up to 2 s after Redis is back, which is before the probes succeed. In the runs measured on the 2-core
 * machine, two at once, no request sent after the probes succeeded failed.
 */
export const GRACE_MS = 2000;

/** After each fault, service must be normal again within this (a `not-recovered` violation). */
export const RECOVERY_LIMIT_MS = 30_000;

/** Outcomes and the HTTP statuses among them (a reinit's 404, a refusal's 4xx/5xx). */
export type Tally = Record<Outcome, number> & { statuses: Record<string, number> };

export interface FaultReport extends FaultRecord {
  /** When outcomes are attributed to this fault (ms since the run started). */
  window: { fromMs: number; toMs: number };
  /** What this fault caused, by workload. */
  caused: Record<string, Tally>;
  /** The last outcome other than `ok` attributed to it, in ms after the fault ended (negative: before). */
  lastFailureAfterEndMs: number | undefined;
  /** From its first failed outcome to its last (ms): how long some requests failed; 0 with one or none. */
  failingMs: number;
}

export interface Attribution {
  byWorkload: Record<string, Tally>;
  /** Outcomes with no fault under way: anything but `ok` here is also an `outside-fault` violation. */
  outsideFaults: Record<string, Tally>;
  faults: FaultReport[];
  violations: Violation[];
}

export function emptyTally(): Tally {
  return { ok: 0, reinit: 0, refused: 0, "rpc-error": 0, network: 0, statuses: {} };
}

function count(table: Record<string, Tally>, e: OutcomeEvent): void {
  const row = table[e.workload] ?? emptyTally();
  table[e.workload] = row;
  row[e.outcome]++;
  if (e.status !== undefined) row.statuses[e.status] = (row.statuses[e.status] ?? 0) + 1;
}

/** Sum of tallies (e.g. one fault's runs, or all workloads). */
export function addTallies(into: Tally, from: Tally): Tally {
  for (const o of OUTCOMES) into[o] += from[o];
  for (const [status, n] of Object.entries(from.statuses)) into.statuses[status] = (into.statuses[status] ?? 0) + n;
  return into;
}

export function windowOf(f: FaultRecord, graceMs = GRACE_MS): { fromMs: number; toMs: number } {
  const over = Math.max(f.durationMs, f.recoveryMs ?? RECOVERY_LIMIT_MS);
  return { fromMs: f.startMs, toMs: f.startMs + over + graceMs };
}

/**
 * The fault an outcome belongs to: of the windows that its span [fromMs, atMs] overlaps, the one that
 * opened last (the most recent cause), or undefined.
 */
export function faultOf<W extends { window: { fromMs: number; toMs: number } }>(
  e: Pick<OutcomeEvent, "fromMs" | "atMs">,
  faults: readonly W[],
): W | undefined {
  let found: W | undefined;
  for (const f of faults) {
    if (f.window.fromMs <= e.atMs && f.window.toMs >= e.fromMs) {
      if (!found || f.window.fromMs > found.window.fromMs) found = f;
    }
  }
  return found;
}

export function attribute(
  events: readonly OutcomeEvent[],
  records: readonly FaultRecord[],
  graceMs = GRACE_MS,
): Attribution {
  const faults: FaultReport[] = records.map((r) => ({
    ...r,
    window: windowOf(r, graceMs),
    caused: {},
    lastFailureAfterEndMs: undefined,
    failingMs: 0,
  }));
  const firstFailure = new Map<FaultReport, number>();
  const byWorkload: Record<string, Tally> = {};
  const outsideFaults: Record<string, Tally> = {};
  const stray = new Map<string, { workload: string; what: string; n: number; firstMs: number; lastMs: number }>();
  for (const e of events) {
    count(byWorkload, e);
    const f = faultOf(e, faults);
    if (f) {
      count(f.caused, e);
      if (e.outcome !== "ok") {
        const after = e.atMs - (f.startMs + f.durationMs);
        f.lastFailureAfterEndMs = Math.max(f.lastFailureAfterEndMs ?? after, after);
        const first = Math.min(firstFailure.get(f) ?? e.atMs, e.atMs);
        firstFailure.set(f, first);
        f.failingMs = Math.max(f.failingMs, e.atMs - first);
      }
      continue;
    }
    count(outsideFaults, e);
    if (e.outcome === "ok") continue;
    const what = e.status === undefined ? e.outcome : `${e.outcome} (HTTP ${e.status})`;
    const key = `${e.workload}\u0000${what}`;
    const s = stray.get(key) ?? { workload: e.workload, what, n: 0, firstMs: e.atMs, lastMs: e.atMs };
    s.n++;
    s.firstMs = Math.min(s.firstMs, e.atMs);
    s.lastMs = Math.max(s.lastMs, e.atMs);
    stray.set(key, s);
  }
  const violations: Violation[] = [...stray.values()].map((s) => ({
    kind: "outside-fault",
    workload: s.workload,
    detail: `${s.n} × ${s.what} with no fault under way (nor ${graceMs} ms after one), at ${s.firstMs}–${s.lastMs} ms`,
    atMs: s.firstMs,
  }));
  return { byWorkload, outsideFaults, faults, violations };
}
