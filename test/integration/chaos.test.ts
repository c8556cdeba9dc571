import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { failureOf } from "../../bench/chaos/attempt.js";
import { attribute } from "../../bench/chaos/attribution.js";
import { Hung } from "../../bench/chaos/http.js";
import type { OutcomeEvent } from "../../bench/chaos/ledger.js";
import { type ChaosReport, okRatio, requests } from "../../bench/chaos/report.js";
import { spawnManaged } from "../helpers/procs.js";

const RUN = fileURLToPath(new URL("../../bench/chaos/run.ts", import.meta.url));

/**
 * The least share of each workload's requests that must succeed over the quick run. Every failure has
 * already been attributed to a fault (one with no fault under way is a violation); these floors bound how
 * much the faults may cost. Measured on the 2-core machine: 96–99 % for the request loops alone, 95–98 %
 * with two chaos runs at once; most of the loss is the gateway kill (a third of all requests go to the
 * dead gateway while it restarts, 2–5 s, and fail at once).
 */
const MIN_OK_RATIO: Record<string, number> = {
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
const MIN_OK_RATIO_IN_FAULT = 0.5;
const MIN_REQUESTS_TO_JUDGE = 20;

/**
 * The noisy tenant's 400 requests against 10 rps (burst 10) take T seconds (0.4–3 s measured): at most
 * 10 + 10·T are let through, so 75 % limited holds up to T = 9 s; and some are served (its quota).
 */
const MIN_LIMITED_RATIO = 0.75;

/** One chaos run to its report; its violations, exit code and recoveries checked. */
async function chaos(args: string[], faults: string[]): Promise<{ report: ChaosReport; log: string }> {
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

describe("npm run chaos (quick): every fault once, under a mixed load", () => {
  it("gives every request one outcome, breaks no invariant, and recovers from each fault", async () => {
    const { report, log } = await chaos(
      [],
      ["restart Redis (empty)", "Redis primary killed (Sentinel)", "Redis failover (SENTINEL FAILOVER)"],
    );
    assert.equal(report.redis, "sentinel");
    assert.equal(report.faults.length, 13, "each fault ran");
    assert.ok(report.sent > 1000, `only ${report.sent} requests`);

    for (const [workload, min] of Object.entries(MIN_OK_RATIO)) {
      const row = report.outcomes[workload];
      assert.ok(row, `${workload}: no requests at all`);
      const ratio = okRatio(row);
      assert.ok(ratio >= min, `${workload}: ${(100 * ratio).toFixed(1)} % ok, below ${100 * min} %\n${log}`);
    }
    for (const f of report.faults) {
      for (const [workload, t] of Object.entries(f.caused)) {
        if (!(workload in MIN_OK_RATIO) || requests(t) < MIN_REQUESTS_TO_JUDGE) continue;
        assert.ok(
          okRatio(t) >= MIN_OK_RATIO_IN_FAULT,
          `${workload} during "${f.fault}": ${t.ok} of ${requests(t)} ok\n${log}`,
        );
      }
    }
    const burst = report.outcomes["tenant burst"];
    assert.ok(burst && burst.ok > 0, "the burst's tenant still got its quota");
    const limited = (burst.statuses["429"] ?? 0) / requests(burst);
    assert.ok(limited >= MIN_LIMITED_RATIO, `the burst above quota: only ${(100 * limited).toFixed(1)} % limited`);
  });
});

describe("npm run chaos -- --redis cluster --only redis: a Cluster's primary killed under the same load", () => {
  it("gives every request one outcome, breaks no invariant, and serves again once a replica took the slots", async () => {
    const { report, log } = await chaos(
      ["--redis", "cluster", "--only", "redis"],
      ["restart Redis (empty)", "Redis primary killed (Cluster)"],
    );
    assert.equal(report.redis, "cluster");
    assert.equal(report.faults.length, 2);
    const killed = report.faults.find((f) => f.fault === "Redis primary killed (Cluster)");
    // Two shards of three go on serving: the sessions of every era keep at least half their requests.
    for (const [workload, t] of Object.entries(killed?.caused ?? {})) {
      if (!(workload in MIN_OK_RATIO) || requests(t) < MIN_REQUESTS_TO_JUDGE) continue;
      assert.ok(okRatio(t) >= MIN_OK_RATIO_IN_FAULT, `${workload}: ${t.ok} of ${requests(t)} ok\n${log}`);
    }
  });
});

describe("chaos attribution: which fault an outcome belongs to", () => {
  // A fault injected at 10 s, over (ended and probes passing) at 13 s; grace 2 s: its window is 10–15 s.
  const faults = [{ fault: "kill", startMs: 10_000, durationMs: 2_500, recoveryMs: 3_000 }];
  const at = (outcome: OutcomeEvent["outcome"], fromMs: number, atMs: number, status?: number): OutcomeEvent => ({
    workload: "w",
    outcome,
    fromMs,
    atMs,
    ...(status === undefined ? {} : { status }),
  });

  it("attributes failures in the window (or in flight during it) to the fault, with their statuses", () => {
    const a = attribute(
      [at("refused", 11_000, 11_050, 502), at("network", 14_900, 14_950), at("reinit", 9_000, 16_000, 404)],
      faults,
      2_000,
    );
    assert.deepEqual(a.violations, []);
    assert.deepEqual(a.faults[0]?.window, { fromMs: 10_000, toMs: 15_000 });
    assert.deepEqual(a.faults[0]?.caused.w?.statuses, { "502": 1, "404": 1 });
    assert.equal(a.faults[0]?.caused.w?.network, 1);
  });

  it("makes a failure with no fault under way a violation, and counts successes there", () => {
    const a = attribute(
      [at("ok", 1_000, 1_010), at("reinit", 15_500, 15_600, 404), at("network", 20_000, 20_001)],
      faults,
      2_000,
    );
    assert.deepEqual(
      a.violations.map((v) => [v.kind, v.detail.split(" with")[0]]),
      [
        ["outside-fault", "1 × reinit (HTTP 404)"],
        ["outside-fault", "1 × network"],
      ],
    );
    assert.equal(a.outsideFaults.w?.ok, 1);
  });

  it("counts only the system's network errors as outcomes: a harness exception is not one", () => {
    assert.equal(failureOf(Object.assign(new Error("connect"), { code: "ECONNREFUSED" })), "network");
    assert.equal(failureOf(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })), "network");
    assert.equal(failureOf(new Hung("no answer")), "hang");
    assert.equal(failureOf(new TypeError("x is undefined")), "harness");
    assert.equal(failureOf(new SyntaxError("Unexpected token")), "harness");
    assert.equal(failureOf(Object.assign(new TypeError("bad arg"), { code: "ERR_INVALID_ARG_TYPE" })), "harness");
  });
});
