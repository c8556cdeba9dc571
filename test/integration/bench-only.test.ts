import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { ROOT } from "../helpers/procs.js";

/** A rate or a CPU figure as the tables print them: 1,284 or 960.92 (two decimals under 1,000), 372.5 or 1,002. */
const RATE = "[\\d,.]+";
const CPU = `${RATE} \\+ ${RATE}`;

/** `bench/run.ts ARGS…` for one workload (a minute at most); its output once it succeeded. */
function bench(...args: string[]) {
  const run = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return run;
}

describe("npm run bench -- --only / --profile (tiny runs of one workload)", () => {
  it("--only: one workload, Switchyard beside its Node reference and nginx in rounds, and its target", () => {
    const run = bench("--only", "W6", "--tiny");
    assert.match(run.stdout, /^# W6 alone — stub upstream, 32 connections, 1 rounds of 1 s in turn/);
    // Each Node process's CPU time per request (user + system); nginx answers in a worker, not measured.
    for (const c of ["node-proxy", "nginx", "switchyard"]) {
      const cpu = c === "nginx" ? "–" : CPU;
      assert.match(
        run.stdout,
        new RegExp(`^\\| ${c} \\| ${RATE} \\| ${RATE} \\| [\\d.]+× \\| [\\d.]+× \\| ${cpu} \\| 0 \\|$`, "m"),
        c,
      );
    }
    assert.match(run.stdout, /^- (PASS|MISS) W6 ≥ 0\.85× node-proxy: [\d.]+×$/m);
    assert.match(run.stdout, /^- PASS W6 no errors: 0$/m);
  });

  it("--only W9: the virtual server's call beside the plain route's, in one gateway, with the CPU of each", () => {
    const run = bench("--only", "W9", "--tiny");
    assert.match(run.stdout, /^# W9 alone — stub upstream, 32 connections, 1 rounds of 1 s in turn/);
    for (const load of ["plain route \\(W6\\)", "virtual server"]) {
      assert.match(
        run.stdout,
        new RegExp(`^\\| ${load} \\| ${RATE} \\| ${RATE} \\| [\\d.]+× \\| ${CPU} \\| 0 \\|$`, "m"),
        load,
      );
    }
    assert.match(run.stdout, /^- (PASS|MISS) W9 virtual server ≥ 0\.8× the plain route: [\d.]+×$/m);
    assert.match(run.stdout, /^- PASS W9 no errors: 0$/m);
  });

  it("--only TRACING: W1 with tracing off, every request traced, 1 in 10, with the CPU of each", () => {
    const run = bench("--only", "TRACING", "--tiny");
    assert.match(run.stdout, /^# W1 with OpenTelemetry — stub upstream, 32 connections, 1 rounds of 1 s in turn/);
    for (const g of ["tracing off", "every request traced", "1 in 10 traced"]) {
      assert.match(
        run.stdout,
        new RegExp(`^\\| ${g} \\| ${RATE} \\| ${RATE} \\| [\\d.]+× \\| ${CPU} \\| 0 \\|$`, "m"),
        g,
      );
    }
    assert.match(run.stdout, /^- (PASS|MISS) W1 every request traced ≥ 0\.85× tracing off: [\d.]+×$/m);
  });

  it("--only REDIS: W1 and W5 with the store on one Redis, Sentinel and a Cluster, in one run", () => {
    const run = bench("--only", "REDIS", "--tiny");
    assert.match(
      run.stdout,
      /^# The Redis store on one server, Sentinel and a Cluster — stub upstream, 1 rounds of 1 s/,
    );
    for (const store of ["single", "sentinel", "cluster"]) {
      const row = new RegExp(
        `^\\| ${store} \\| [\\d,.]+ \\| [\\d,.]+ \\| [\\d.]+× \\| [\\d,.]+ \\+ [\\d,.]+ \\| 0 \\|$`,
        "gm",
      );
      assert.equal(run.stdout.match(row)?.length, 2, `${store}: a W1 row and a W5 row, with no errors`);
    }
  });

  it("--profile: where a request's time goes, by area and by function", () => {
    const run = bench("--profile", "w7", "--tiny");
    assert.match(run.stdout, /^# Profile of W7 \(32 connections, stub upstream; [\d,.]+ req\/s under the profiler\)/);
    // Switchyard's own share is shown, and its functions by file and line.
    assert.match(run.stdout, /^\| switchyard \| [\d.]+ % \|$/m);
    assert.match(run.stdout, /^\| \S+ dist\/[\w/-]+\.js:\d+ \| switchyard \| [\d.]+ % \|$/m);
    assert.match(run.stdout, /The profile: \S+\.?/);
  });

  it("--only WORKERS: Switchyard with 1 and 2 workers beside nginx (2 workers) and HAProxy (2 threads), W8 a tenant's server", () => {
    const run = bench("--only", "WORKERS", "--tiny");
    assert.match(run.stdout, /^# Every core: --workers 2 beside nginx \(2 workers\) and HAProxy \(2 threads\)/);
    for (const w of ["W1", "W6", "W7", "W8"]) {
      assert.match(run.stdout, new RegExp(`^## ${w} — stub upstream, 32 connections$`, "m"));
    }
    for (const c of ["switchyard", "switchyard-2w", "nginx-2w", "haproxy-2t"]) {
      const row = new RegExp(
        `^\\| ${c} \\| [\\d,.]+ \\| [\\d,.]+ \\| [\\d.]+× \\| [\\d.]+× \\| ([\\d,.]+ \\+ [\\d,.]+|–) \\| 0 \\|$`,
        "gm",
      );
      assert.equal(run.stdout.match(row)?.length, 4, `${c}: a row per workload, with no errors`);
    }
    assert.equal(run.stdout.match(/^- Scaling from 1 to 2 workers: [\d.]+×$/gm)?.length, 4);
  });

  it("--only RUNTIMES: W1 and W4 with the gateway on this Node and on Node 24, memory per stream as RSS and live heap", () => {
    const run = bench("--only", "RUNTIMES", "--tiny");
    assert.match(run.stdout, /^# Node [\d.]+ and Node 24 side by side/);
    assert.match(run.stdout, /^- Node 24 against Node [\d.]+: [\d.]+×$/m);
    for (const c of [`switchyard-node${process.versions.node}`, "switchyard-node24"]) {
      assert.match(
        run.stdout,
        new RegExp(
          `^\\| ${c} \\| [\\d,.]+ \\| [\\d,.]+ \\| [\\d.]+× \\| [\\d.]+× \\| [\\d,.]+ \\+ [\\d,.]+ \\| 0 \\|$`,
          "m",
        ),
      );
      assert.match(
        run.stdout,
        new RegExp(`^\\| ${c} \\| 100/100 \\| 0 \\| -?[\\d,.]+ \\| -?[\\d,.]+ \\| 100/100 \\|$`, "m"),
        `${c}: W4`,
      );
    }
  });
});
