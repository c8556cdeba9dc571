/** What `switchyard check` reports: one finding per pitfall, with the fix when it is not a pass. Pure. */
export type Status = "pass" | "warn" | "fail" | "skip";

export interface Finding {
  /** Stable: `tls`, `auth`, `session.id`, `session.affinity`, `session.unknown`, `cors`, `stream.get`, … */
  id: string;
  status: Status;
  /** One line, in the words of what was observed. */
  title: string;
  detail?: string;
  /** What to change, for a warn or a fail. */
  fix?: string;
}

export interface Report {
  url: string;
  /** No finding failed. */
  ok: boolean;
  counts: Record<Status, number>;
  findings: Finding[];
}

export function finding(id: string, status: Status, title: string, more: { detail?: string; fix?: string } = {}) {
  return { id, status, title, ...more } satisfies Finding;
}

export function toReport(url: string, findings: Finding[]): Report {
  const counts: Record<Status, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const f of findings) counts[f.status]++;
  return { url, ok: counts.fail === 0, counts, findings };
}

/** The report as a person reads it. */
export function formatReport(report: Report): string {
  const width = Math.max(...report.findings.map((f) => f.id.length), 4);
  const lines = [`switchyard check ${report.url}`, ""];
  for (const f of report.findings) {
    lines.push(`  ${f.status.toUpperCase().padEnd(4)}  ${f.id.padEnd(width)}  ${f.title}`);
    const pad = " ".repeat(width + 10);
    if (f.detail) lines.push(`${pad}${f.detail}`);
    if (f.fix && (f.status === "fail" || f.status === "warn")) lines.push(`${pad}fix: ${f.fix}`);
  }
  const { pass, warn, fail, skip } = report.counts;
  lines.push("", `${pass} pass, ${warn} warn, ${fail} fail, ${skip} skipped`);
  return lines.join("\n");
}
