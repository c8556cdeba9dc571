import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpusOfCfs, cpusOfCpuMax } from "../../src/workers/cpus.js";
import { SlotBook } from "../../src/workers/shared-slots.js";

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

describe("workers: the primary's count of stream slots", () => {
  it("counts every worker's slots against one limit; a worker's death gives back what it held", () => {
    const book = new SlotBook();
    assert.equal(book.take(1, "streams", 3), true);
    assert.equal(book.take(2, "streams", 3), true);
    assert.equal(book.take(2, "streams", 3), true);
    assert.equal(book.take(1, "streams", 3), false, "the gateway's fourth");
    assert.equal(book.take(1, "tenant:a", 1), true, "another key, another count");
    book.give(1, "streams");
    assert.equal(book.take(2, "streams", 3), true, "room again");
    book.give(1, "streams"); // worker 1 holds no more: ignored, not a slot given for worker 2
    assert.equal(book.take(1, "streams", 3), false);
    book.release(2);
    assert.equal(book.take(1, "streams", 3), true);
    assert.equal(book.take(1, "streams", 3), true);
    assert.equal(book.take(1, "streams", 3), true);
    assert.equal(book.take(1, "streams", 3), false);
    assert.equal(book.take(2, "tenant:a", 1), false, "worker 1's tenant slot still held");
  });
});
