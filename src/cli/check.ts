import { runCheck } from "../doctor/check.js";
import { formatReport } from "../doctor/finding.js";

export interface CheckCliOptions {
  repeat: string;
  idle: string;
  timeout: string;
  json?: boolean;
  ca?: string;
  insecure?: boolean;
  origin?: string;
  header: string[];
}

function positive(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: a number ≥ ${min}`);
  return n;
}

/** `switchyard check URL`: the report on standard output; exit 1 when anything failed. */
export async function runCheckCli(url: string, options: CheckCliOptions): Promise<void> {
  const headers: Record<string, string> = {};
  for (const h of options.header) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new Error(`--header "${h}": use "Name: value"`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const report = await runCheck(url, {
    repeat: positive("repeat", options.repeat, 1),
    idleMs: positive("idle", options.idle, 0) * 1000,
    timeoutMs: positive("timeout", options.timeout, 1) * 1000,
    headers,
    ca: options.ca,
    insecure: options.insecure,
    origin: options.origin,
  });
  process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
}
