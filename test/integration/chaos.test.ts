import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { ChaosReport } from "../../bench/chaos/report.js";
import { spawnManaged } from "../helpers/procs.js";

const RUN = fileURLToPath(new URL("../../bench/chaos/run.ts", import.meta.url));

describe("npm run chaos (quick): every fault once, under a mixed load", () => {
  it("gives every request one outcome, breaks no invariant, and recovers from each fault", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "swy-chaos-")), "chaos.json");
    const run = spawnManaged(process.execPath, ["--import", "tsx", RUN, "--out", out]);
    const code = await run.exited;
    const report = JSON.parse(readFileSync(out, "utf8")) as ChaosReport;
    assert.deepEqual(report.violations, [], run.lines.join("\n"));
    assert.equal(code, 0);
    assert.equal(report.faults.length, 8, "each fault ran");
    for (const f of report.faults) assert.ok(f.recoveryMs !== undefined, `${f.fault}: never normal again`);
    for (const [workload, row] of Object.entries(report.outcomes)) {
      if (workload !== "tenant burst") assert.ok(row.ok > 0, `${workload}: nothing answered`);
    }
    assert.ok((report.outcomes["tenant burst"]?.refused ?? 0) > 0, "the burst above quota was limited");
    assert.ok(report.sent > 1000, `only ${report.sent} requests`);
  });
});
