import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { okRatio, requests } from "../../bench/chaos/report.js";
import { chaos, MIN_OK_RATIO, MIN_OK_RATIO_IN_FAULT, MIN_REQUESTS_TO_JUDGE } from "../helpers/chaos.js";

// Its own file: with the quick run beside it, one file outgrew the per-file timeout on a slow host.
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
