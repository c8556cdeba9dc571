import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChaosReport } from "../../bench/chaos/report.js";
import { spawnManaged } from "./procs.js";

const RUN = fileURLToPath(new URL("../../bench/chaos/run.ts", import.meta.url));

/**
 * The least share of each workload's requests that must succeed over the quick run. Every failure has
 * already been attributed to a fault (one with no fault under way is a violation); these floors bound how
 * much the faults may cost. Measured on the 2-core machine: 96–99 % for the request loops alone, 95–98 %
 * with two chaos runs at once; most of the loss is the gateway kill (a third of all requests go to the
 * dead gateway while it restarts, 2–5 s, and fail at once).
 */
export const MIN_OK_RATIO: Record<string, number> = {
  // Thousands of requests each, 1–5 % lost: 90 % leaves twice the worst loss measured under double load,
  // and fails when the faults cost a pool a tenth of its traffic (all of it for about 8 s of the run). A
  // shorter outage of a whole pool is for the floor during each fault (below) to catch.
  "legacy sessions": 0.9,
  "HTTP+SSE sessions": 0.9,
  "shared (switchyard/ha) sessions": 0.9,
  "modern requests": 0.9,
  "tenant sessions": 0.9,
  // About 50 streams each; a fault can break one or two (a killed gateway or replica, an emptied store):
  // 88–100 % measured, 80 % leaves room for about twice the losses.
  "long streams": 0.8,
  "slow-reader streams": 0.8,
  // About 30–40 calls, each in a session that has just held a stream open for 2–6 s, so every fault that
  // loses sessions can cost one or two (their 404s): 83–92 % measured.
  "abandoned calls": 0.7,
};

/**
 * During each fault (its window: from its start until the grace after it is over), each workload above
 * with enough requests there to judge keeps at least half its requests answered: no fault here may take a
 * whole pool down. The worst measured is the gateway kill, about 80 % (a third of the requests go to the
 * dead gateway while it is down, and the window also holds its recovery and grace).
 */
export const MIN_OK_RATIO_IN_FAULT = 0.5;
export const MIN_REQUESTS_TO_JUDGE = 20;

/**
 * The noisy tenant's 400 requests against 10 rps (burst 10) take T seconds (0.4–3 s measured): at most
 * 10 + 10·T are let through, so 75 % limited holds up to T = 9 s; and some are served (its quota).
 */
export const MIN_LIMITED_RATIO = 0.75;

/** One chaos run to its report; its violations, exit code and recoveries checked. */
export async function chaos(args: string[], faults: string[]): Promise<{ report: ChaosReport; log: string }> {
  const out = join(mkdtempSync(join(tmpdir(), "swy-chaos-")), "chaos.json");
  const run = spawnManaged(process.execPath, ["--import", "tsx", RUN, "--out", out, ...args]);
  const code = await run.exited;
  const log = [...run.lines, ...run.stderr].join("\n");
  assert.ok(existsSync(out), `the run ended (exit ${code}) with no report:\n${log}`);
  const report = JSON.parse(readFileSync(out, "utf8")) as ChaosReport;
  assert.deepEqual(report.violations, [], log);
  assert.equal(code, 0, log);
  for (const name of faults)
    assert.ok(
      report.faults.some((f) => f.fault === name),
      `${name}: not run`,
    );
  for (const f of report.faults) assert.ok(f.recoveryMs !== undefined, `${f.fault}: never normal again`);
  return { report, log };
}
