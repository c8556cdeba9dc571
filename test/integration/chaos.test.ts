import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { failureOf } from "../../bench/chaos/attempt.js";
import { attribute } from "../../bench/chaos/attribution.js";
import { Hung } from "../../bench/chaos/http.js";
import type { OutcomeEvent } from "../../bench/chaos/ledger.js";
import { okRatio, requests } from "../../bench/chaos/report.js";
import {
  chaos,
  MIN_LIMITED_RATIO,
  MIN_OK_RATIO,
  MIN_OK_RATIO_IN_FAULT,
  MIN_REQUESTS_TO_JUDGE,
} from "../helpers/chaos.js";

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
