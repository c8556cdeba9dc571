import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OTHER, TrafficWindow } from "../../src/observability/traffic-window.js";

describe("the traffic window (the console's charts)", () => {
  it("counts requests and 5xx per route in 10 s buckets, forgets what is older than the window", () => {
    let now = 1_000_000;
    const w = new TrafficWindow(10_000, 6, () => now);
    for (let i = 0; i < 5; i++) w.record("svc", 200);
    w.record("svc", 503);
    w.record("svc", 404); // a refusal, not an error of the gateway's
    w.record("other", 200);
    now += 10_000;
    w.record("svc", 500);
    const s = w.series("svc");
    assert.equal(s.length, 6);
    assert.deepEqual(s.slice(-2), [
      { at: 1_000_000, requests: 7, errors: 1 },
      { at: 1_010_000, requests: 1, errors: 1 },
    ]);
    assert.equal(w.series("other").at(-2)?.requests, 1);
    // A whole window later, the slots have come round again: the old counts are gone, not added to.
    now += 60_000;
    w.record("svc", 200);
    const later = w.series("svc");
    assert.deepEqual(
      later.map((b) => b.requests),
      [0, 0, 0, 0, 0, 1],
    );
    assert.deepEqual(
      w.series("unknown").map((b) => b.requests),
      [0, 0, 0, 0, 0, 0],
    );
  });

  it("past 1,000 routes, counts the others together under one name", () => {
    const w = new TrafficWindow(10_000, 6, () => 1_000_000);
    for (let i = 0; i < 1_000; i++) w.record(`r${i}`, 200);
    w.record("one-too-many", 200);
    w.record("and-another", 503);
    assert.equal(w.series("r999").at(-1)?.requests, 1, "the first thousand are their own");
    assert.deepEqual(w.series(OTHER).at(-1), { at: 1_000_000, requests: 2, errors: 1 });
    assert.equal(w.series("one-too-many").at(-1)?.requests, 0);
  });
});
