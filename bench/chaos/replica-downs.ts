/**
 * The gateways' own account of the run: each "replica down" they logged (a failed health check, a refused
 * connection, another gateway's report), with the fault it happened during. One with no fault under way
 * is how sessions get lost (404) with no fault: it explains an `outside-fault` violation.
 */
import { type FaultReport, faultOf } from "./attribution.js";

export interface ReplicaDown {
  gateway: string;
  route: string;
  replica: string;
  reason: string;
  /** ms since the run started. */
  atMs: number;
  /** The fault whose window it fell in, or null. */
  fault: string | null;
}

/** The "replica down" lines of each gateway's output (pino JSON), attributed to the faults' windows. */
export function replicaDowns(
  gateways: ReadonlyArray<{ name: string; lines: string[] }>,
  started: number,
  faults: readonly FaultReport[],
): ReplicaDown[] {
  const downs: ReplicaDown[] = [];
  for (const g of gateways) {
    for (const line of g.lines) {
      if (!line.includes('"replica down"')) continue;
      let entry: { time?: unknown; route?: unknown; replica?: unknown; reason?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      const time = typeof entry.time === "number" ? entry.time : Date.parse(String(entry.time));
      const atMs = time - started;
      downs.push({
        gateway: g.name,
        route: String(entry.route),
        replica: String(entry.replica),
        reason: String(entry.reason),
        atMs,
        fault: faultOf({ fromMs: atMs, atMs }, faults)?.fault ?? null,
      });
    }
  }
  return downs.sort((a, b) => a.atMs - b.atMs);
}
