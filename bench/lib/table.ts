/** Markdown rendering of the results. */

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return "–";
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(digits);
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cell = (v: string | number) => (typeof v === "number" ? fmt(v) : v);
  return [
    `| ${headers.join(" | ")} |`,
    `| ${headers.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

export function ratio(a: number, b: number | undefined): string {
  return b === undefined || !Number.isFinite(b) || b === 0 ? "–" : `${(a / b).toFixed(2)}×`;
}

export function delta(a: number, b: number | undefined): string {
  if (b === undefined || !Number.isFinite(b)) return "–";
  const d = a - b;
  return `${d >= 0 ? "+" : ""}${d.toFixed(2)}`;
}
