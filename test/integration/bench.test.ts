import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers/procs.js";

const CONTENDERS = ["direct", "nginx", "haproxy", "switchyard", "switchyard+redis", "switchyard+tokens"];

describe("npm run bench (a tiny run)", () => {
  it("starts and stops every contender and prints a well-formed table and JSON", () => {
    const out = mkdtempSync(join(tmpdir(), "swy-bench-test-"));
    const run = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--tiny", "--out", out], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 200_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const md = run.stdout;
    for (const heading of ["## W1", "## W2", "## W3", "## W4", "## W5", "## Targets"]) {
      assert.ok(md.includes(heading), `the report has ${heading}`);
    }
    // Every table row is complete, and every contender appears in each throughput table.
    const sections = md.split("\n## ").slice(1);
    for (const section of sections.filter((s) => /^W[125] /.test(s))) {
      for (const c of CONTENDERS)
        assert.ok(
          section.split("\n").some((l) => l.startsWith(`| ${c} |`)),
          `${c} in ${section.split("\n")[0]}`,
        );
    }
    for (const line of md.split("\n").filter((l) => l.startsWith("| "))) {
      assert.ok(!line.includes("NaN") && !line.includes("undefined"), `a clean row: ${line}`);
    }
    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith(".json"));
    assert.ok(json && files.some((f) => f.endsWith(".md")), "results written as JSON and Markdown");
    const results = JSON.parse(readFileSync(join(out, json), "utf8")) as Record<string, unknown>;
    for (const key of ["w1-json-c8", "w1-sdk-c8", "w2", "w3", "w4", "w5", "checks"]) assert.ok(key in results, key);
    const w1 = results["w1-json-c8"] as Record<string, { rps: number; errors: number }>;
    for (const c of CONTENDERS) {
      assert.ok((w1[c]?.rps ?? 0) > 0, `${c} carried load`);
      assert.equal(w1[c]?.errors, 0, `${c} answered every request`);
    }
    // Federation: a call routed through a virtual server, a merged list from the cache, each beside its plain route.
    for (const [title, rows] of [
      ["W9 ", ["plain route (W6)", "virtual server"]],
      ["W10 ", ["plain route, the same 24 tools", "virtual server, 3 members"]],
    ] as const) {
      const section = sections.find((s) => s.startsWith(title)) as string;
      assert.ok(section, `the report has ${title}`);
      for (const row of rows)
        assert.match(section, new RegExp(`^\\| ${row.replace(/[()]/g, "\\$&")} \\| [\\d,.]+ \\|`, "m"), row);
    }
    assert.match(md, /^- (PASS|MISS) W9 virtual server ≥ 0\.8× the plain route: [\d.]+×$/m);
    assert.match(md, /^- PASS W10 no errors: 0$/m);
    // The cost of membership: the W1 call with the pool found in DNS, and with a reload every second.
    assert.ok(md.includes("## Membership"), "the report has the membership section");
    const membership = results.w1Membership as { rows: Record<string, { rps: number; errors: number }> };
    for (const c of ["switchyard+dns", "switchyard, reload every 1 s"]) {
      assert.ok((membership.rows[c]?.rps ?? 0) > 0, `${c} carried load`);
      assert.equal(membership.rows[c]?.errors, 0, `${c} answered every request`);
    }
    // The cost of OAuth: the W1 call on a protected route, with a valid token on every request.
    assert.ok(md.includes("## OAuth"), "the report has the OAuth section");
    const oauth = results.w1OAuth as Record<string, { rps: number; errors: number }>;
    assert.ok((oauth["switchyard+oauth"]?.rps ?? 0) > 0, "the protected route carried load");
    assert.equal(oauth["switchyard+oauth"]?.errors, 0, "and answered every request");
    // Node's own ceiling beside them: node-proxy where a request is proxied, node-bare for the cache hit.
    for (const [title, reference] of [
      ["W1 session-bound tools/call — stub", "node-proxy"],
      ["W2", "node-proxy"],
      ["W6", "node-proxy"],
      ["W8", "node-proxy"],
      ["W7", "node-bare"],
    ] as const) {
      const section = sections.find((s) => s.startsWith(title)) as string;
      assert.ok(section.includes(`× ${reference} |`), `${title}: a ratio to ${reference}`);
      const row = section.split("\n").find((l) => l.startsWith(`| ${reference} |`));
      assert.ok(row?.includes("| 1.00× |"), `${title}: ${reference} carried load (${row})`);
    }
    // Nothing left running.
    const left = spawnSync("pgrep", ["-f", "swy-bench-"], { encoding: "utf8" }).stdout.trim();
    assert.equal(left, "", "every contender was stopped");
  });
});
