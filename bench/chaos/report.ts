import { addTallies, emptyTally, type FaultReport, type Tally } from "./attribution.js";
import { OUTCOMES, type Violation } from "./ledger.js";
import type { ReplicaDown } from "./replica-downs.js";

export interface ChaosReport {
  mode: string;
  /** The Redis deployment the run used. */
  redis: string;
  date: string;
  node: string;
  durationMs: number;
  sent: number;
  /** How long after a fault is over its effects may still be seen (attribution.ts). */
  graceMs: number;
  /** Every outcome by workload, with the HTTP statuses among them. */
  outcomes: Record<string, Tally>;
  /** Outcomes while no fault was under way, by workload: anything but `ok` is a violation too. */
  outsideFaults: Record<string, Tally>;
  /** Each fault run: its span, recovery, window, and what it caused by workload. */
  faults: FaultReport[];
  /** Every "replica down" the gateways logged, and the fault it happened during (null: none). */
  replicasDown: ReplicaDown[];
  violations: Violation[];
  peakGatewayRssBytes: number;
}

export const requests = (t: Tally) => OUTCOMES.reduce((n, o) => n + t[o], 0);

/** The share of a workload's requests answered as expected (1 when there were none). */
export const okRatio = (t: Tally) => (requests(t) === 0 ? 1 : t.ok / requests(t));

/** A Markdown table: its first `left` columns are text, the rest right-aligned (figures). */
function table(head: string[], rows: Array<Array<string | number>>, left = 1): string {
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i < left ? "---" : "---:")).join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

function median(values: number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

const show = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "never" : Math.round(v));

const statuses = (t: Tally) =>
  Object.entries(t.statuses)
    .map(([status, n]) => `${status}×${n}`)
    .join(" ");

const counts = (t: Tally) => OUTCOMES.map((o) => t[o]);

/** A fault's runs, grouped by name, in the order they first ran. */
function byName(faults: FaultReport[]): Map<string, FaultReport[]> {
  const out = new Map<string, FaultReport[]>();
  for (const f of faults) out.set(f.fault, [...(out.get(f.fault) ?? []), f]);
  return out;
}

/** What each fault caused (its runs summed), by workload; then what happened with no fault under way. */
function causedTable(r: ChaosReport): string {
  const rows: Array<Array<string | number>> = [];
  for (const [name, runs] of byName(r.faults)) {
    const sum: Record<string, Tally> = {};
    for (const f of runs) for (const [w, t] of Object.entries(f.caused)) sum[w] = addTallies(sum[w] ?? emptyTally(), t);
    const hit = Object.entries(sum).filter(([, t]) => t.ok !== requests(t));
    if (hit.length === 0) rows.push([name, "(none failed)", "", "", "", "", "", ""]);
    for (const [w, t] of hit) rows.push([name, w, ...counts(t), statuses(t)]);
  }
  const calm = Object.values(r.outsideFaults).reduce((sum, t) => addTallies(sum, t), emptyTally());
  rows.push(["(no fault under way)", "all", ...counts(calm), statuses(calm)]);
  return table(["fault", "workload", ...OUTCOMES, "HTTP statuses"], rows, 2);
}

/**
 * The run as Markdown tables: outcomes per workload; faults, their recovery and how long their effects
 * lasted; what each fault caused, by workload and HTTP status; violations.
 */
export function formatReport(r: ChaosReport): string {
  const outcomes = table(
    ["workload", "requests", "ok %", ...OUTCOMES, "HTTP statuses"],
    Object.entries(r.outcomes).map(([name, t]) => [
      name,
      requests(t),
      (100 * okRatio(t)).toFixed(1),
      ...counts(t),
      statuses(t),
    ]),
  );
  const faults = table(
    [
      "fault",
      "times",
      "lasted (ms, median)",
      "normal again after its end (ms): median",
      "max",
      "last failure after its end (ms): max",
      "failures from first to last (ms): max",
    ],
    [...byName(r.faults)].map(([name, runs]) => {
      const after = runs.map((f) =>
        f.recoveryMs === undefined ? Number.POSITIVE_INFINITY : f.recoveryMs - f.durationMs,
      );
      const lastFailures = runs.flatMap((f) =>
        f.lastFailureAfterEndMs === undefined ? [] : [f.lastFailureAfterEndMs],
      );
      return [
        name,
        runs.length,
        show(median(runs.map((f) => f.durationMs))),
        show(median(after)),
        show(Math.max(...after)),
        lastFailures.length === 0 ? "none" : Math.round(Math.max(...lastFailures)),
        lastFailures.length === 0 ? "none" : Math.round(Math.max(...runs.map((f) => f.failingMs ?? 0))),
      ];
    }),
  );
  const unexplained = r.replicasDown.filter((d) => d.fault === null);
  const downs =
    unexplained.length === 0
      ? `Replicas marked down by the gateways: ${r.replicasDown.length}, each during a fault.`
      : `Replicas marked down with no fault under way (sessions they held are lost: 404):\n\n${table(
          ["gateway", "at (ms)", "route", "replica", "reason"],
          unexplained.map((d) => [d.gateway, d.atMs, d.route, d.replica, d.reason]),
        )}`;
  const violations =
    r.violations.length === 0
      ? "Invariant violations: **0**."
      : `Invariant violations: **${r.violations.length}**\n\n${table(
          ["kind", "where", "at (ms)", "detail"],
          r.violations.slice(0, 50).map((v) => [v.kind, v.workload, v.atMs, v.detail.replace(/\|/g, "/")]),
        )}`;
  return [
    `## chaos (${r.mode}, Redis: ${r.redis}) — ${r.sent} requests in ${Math.round(r.durationMs / 1000)} s, ${r.node}`,
    "",
    outcomes,
    "",
    faults,
    "",
    `What each fault caused: outcomes from its start until ${r.graceMs} ms after it was over (ended, and`,
    "service normal again), by workload; anything but ok with no fault under way is a violation.",
    "",
    causedTable(r),
    "",
    downs,
    "",
    `Peak gateway memory (RSS): ${Math.round(r.peakGatewayRssBytes / 1048576)} MiB.`,
    "",
    violations,
  ].join("\n");
}
