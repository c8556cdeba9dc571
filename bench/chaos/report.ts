import type { FaultRecord, Outcome, Violation } from "./ledger.js";

export interface ChaosReport {
  mode: string;
  date: string;
  node: string;
  durationMs: number;
  sent: number;
  outcomes: Record<string, Record<Outcome, number>>;
  /** Refusals by workload and HTTP status. */
  refusals: Record<string, Record<string, number>>;
  violations: Violation[];
  faults: FaultRecord[];
  peakGatewayRssBytes: number;
}

const OUTCOMES: Outcome[] = ["ok", "reinit", "refused", "rpc-error", "network"];

function table(head: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

function median(values: number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The run as Markdown tables: outcomes per workload, faults and their recovery, violations. */
export function formatReport(r: ChaosReport): string {
  const outcomes = table(
    ["workload", "requests", ...OUTCOMES, "refusals by status"],
    Object.entries(r.outcomes).map(([name, row]) => [
      name,
      OUTCOMES.reduce((n, o) => n + row[o], 0),
      ...OUTCOMES.map((o) => row[o]),
      Object.entries(r.refusals[name] ?? {})
        .map(([status, n]) => `${status}×${n}`)
        .join(" "),
    ]),
  );
  const byFault = new Map<string, FaultRecord[]>();
  for (const f of r.faults) byFault.set(f.fault, [...(byFault.get(f.fault) ?? []), f]);
  const faults = table(
    ["fault", "times", "lasted (ms, median)", "normal again after its end (ms): median", "max"],
    [...byFault].map(([name, runs]) => {
      const after = runs.map((f) =>
        f.recoveryMs === undefined ? Number.POSITIVE_INFINITY : f.recoveryMs - f.durationMs,
      );
      const show = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "never" : Math.round(v));
      return [
        name,
        runs.length,
        show(median(runs.map((f) => f.durationMs))),
        show(median(after)),
        show(Math.max(...after)),
      ];
    }),
  );
  const violations =
    r.violations.length === 0
      ? "Invariant violations: **0**."
      : `Invariant violations: **${r.violations.length}**\n\n${table(
          ["kind", "where", "at (ms)", "detail"],
          r.violations.slice(0, 50).map((v) => [v.kind, v.workload, v.atMs, v.detail.replace(/\|/g, "/")]),
        )}`;
  return [
    `## chaos (${r.mode}) — ${r.sent} requests in ${Math.round(r.durationMs / 1000)} s, ${r.node}`,
    "",
    outcomes,
    "",
    faults,
    "",
    `Peak gateway memory (RSS): ${Math.round(r.peakGatewayRssBytes / 1048576)} MiB.`,
    "",
    violations,
  ].join("\n");
}
