import type { FaultRecord, Outcome, Violation } from "./ledger.js";

export interface ChaosReport {
  mode: string;
  date: string;
  node: string;
  durationMs: number;
  sent: number;
  outcomes: Record<string, Record<Outcome, number>>;
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

/** The run as Markdown tables: outcomes per workload, faults and their recovery, violations. */
export function formatReport(r: ChaosReport): string {
  const outcomes = table(
    ["workload", "requests", ...OUTCOMES],
    Object.entries(r.outcomes).map(([name, row]) => [
      name,
      OUTCOMES.reduce((n, o) => n + row[o], 0),
      ...OUTCOMES.map((o) => row[o]),
    ]),
  );
  const faults = table(
    ["fault", "lasted (ms)", "normal again, from its start (ms)", "… from its end (ms)"],
    r.faults.map((f) => [
      f.fault,
      f.durationMs,
      f.recoveryMs ?? "never",
      f.recoveryMs === undefined ? "never" : f.recoveryMs - f.durationMs,
    ]),
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
