import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeOverviews, type OverviewPart } from "../../src/gateway/admin-operator.js";

const part = (requests: number, healthy: boolean, inFlight: number, extra = false): OverviewPart => ({
  routes: [
    {
      name: "svc",
      kind: "route",
      transport: "streamable-http",
      replicas: [
        { id: "http://a/mcp", state: "serving", healthy, inFlight },
        ...(extra ? [{ id: "http://b/mcp", state: "joining", healthy: false, inFlight: 0 }] : []),
      ],
      traffic: [
        { at: 0, requests: 1, errors: 0 },
        { at: 10_000, requests, errors: 1 },
      ],
    },
  ],
  inFlight,
  streams: 2,
  phase: { unready: false, draining: extra },
});

describe("the overview of a gateway of several workers", () => {
  it("sums traffic, requests in flight and streams; a replica is down if any worker sees it down", () => {
    const merged = mergeOverviews([part(5, true, 1), part(7, false, 2, true)]);
    const svc = merged.routes[0];
    assert.deepEqual(svc?.traffic, [
      { at: 0, requests: 2, errors: 0 },
      { at: 10_000, requests: 12, errors: 2 },
    ]);
    assert.deepEqual(svc?.replicas, [
      { id: "http://a/mcp", state: "serving", healthy: false, inFlight: 3 },
      { id: "http://b/mcp", state: "joining", healthy: false, inFlight: 0 },
    ]);
    assert.equal(merged.inFlight, 3);
    assert.equal(merged.streams, 4);
    assert.equal(merged.phase.draining, true);
  });
});
