import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpusOfCfs, cpusOfCpuMax } from "../../src/workers/cpus.js";

describe("workers: auto counts the CPUs the cgroup allows", () => {
  it("reads cgroup v2 cpu.max and v1 cfs quota and period", () => {
    assert.equal(cpusOfCpuMax("max 100000\n"), undefined, "no limit");
    assert.equal(cpusOfCpuMax("200000 100000\n"), 2);
    assert.equal(cpusOfCpuMax("150000 100000"), 1.5);
    assert.equal(cpusOfCfs("-1\n", "100000\n"), undefined, "no limit");
    assert.equal(cpusOfCfs("50000", "100000"), 0.5);
    assert.equal(cpusOfCfs("garbage", "100000"), undefined);
  });
});
