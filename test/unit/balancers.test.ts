import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { upstreamSchema } from "../../src/config/schema.js";
import { createBalancer } from "../../src/upstream/balancer.js";
import { UpstreamPool } from "../../src/upstream/pool.js";
import { Replica } from "../../src/upstream/replica.js";

const opts = { connections: 1, connectTimeoutMs: 1000, headersTimeoutMs: 1000 };
const replicas = ["http://127.0.0.1:1/mcp", "http://127.0.0.1:2/mcp", "http://127.0.0.1:3/mcp"].map(
  (u) => new Replica("r", u, opts),
);

describe("balancers", () => {
  after(() => Promise.all(replicas.map((r) => r.close())));

  it("round-robin visits each healthy replica in turn", () => {
    const b = createBalancer("round-robin");
    const picks = Array.from({ length: 6 }, () => b.pick(replicas)?.id);
    assert.deepEqual(
      picks,
      [...replicas, ...replicas].map((r) => r.id),
    );
  });

  it("least-in-flight prefers the least busy, and spreads ties", () => {
    const b = createBalancer("least-in-flight");
    const [r0, r1, r2] = replicas as [Replica, Replica, Replica];
    r0.inFlight = 5;
    r1.inFlight = 1;
    r2.inFlight = 3;
    assert.equal(b.pick(replicas), r1);
    r1.inFlight = 3;
    const ties = new Set(Array.from({ length: 6 }, () => b.pick(replicas)?.id));
    assert.deepEqual([...ties].sort(), [r1.id, r2.id].sort());
    for (const r of replicas) r.inFlight = 0;
  });

  for (const name of ["round-robin", "least-in-flight"] as const) {
    it(`${name} skips unhealthy and excluded replicas, and finds none when all are down`, () => {
      const b = createBalancer(name);
      const [r0, r1, r2] = replicas as [Replica, Replica, Replica];
      r0.markDown("test");
      for (let i = 0; i < 6; i++) {
        const p = b.pick(replicas, r1);
        assert.equal(p, r2);
      }
      r1.markDown("test");
      r2.markDown("test");
      assert.equal(b.pick(replicas), undefined);
      for (const r of replicas) r.markUp();
    });
  }

  it("a replica that went down no longer holds sessions created before, even once back", async () => {
    const r = new Replica("r", "http://127.0.0.1:4/mcp", opts);
    const before = Date.now() - 1000;
    assert.ok(r.holds(before));
    r.markDown("x", before + 500);
    assert.ok(!r.holds(Date.now()), "not while down");
    r.markUp();
    assert.ok(!r.holds(before), "a session from before the fall is gone");
    assert.ok(r.holds(Date.now() + 1), "a session created since lives");
    await r.close();
  });
});

describe("shared sessions (`sessions: shared`)", () => {
  const urls = ["http://127.0.0.1:1/mcp", "http://127.0.0.1:2/mcp", "http://127.0.0.1:3/mcp"];
  const config = upstreamSchema.parse({ replicas: urls, sessions: "shared" });
  const pools = [1, 2].map((n) => new UpstreamPool(`shared${n}`, config, opts));
  after(() => Promise.all(pools.map((p) => p.close())));
  const ids = Array.from({ length: 60 }, (_, i) => `gone.session-${i}`);

  it("go to the node their id names, while it is up", () => {
    const [a] = pools as [UpstreamPool];
    const named = a.replicas[1] as Replica;
    named.learnNode({ "x-switchyard-ha-node": "n2" });
    assert.equal(a.forSharedSession("n2.abc"), named);
    named.markDown("test");
    assert.notEqual(a.forSharedSession("n2.abc"), named);
    named.markUp();
  });

  it("else to one replica chosen by the id: the same on every gateway, and only a dead replica's move", () => {
    const [a, b] = pools as [UpstreamPool, UpstreamPool];
    const before = ids.map((id) => a.forSharedSession(id)?.id);
    assert.deepEqual(
      ids.map((id) => b.forSharedSession(id)?.id),
      before,
      "two gateways agree",
    );
    assert.equal(new Set(before).size, 3, "spread over every replica");
    (a.replicas[0] as Replica).markDown("test");
    const after = ids.map((id) => a.forSharedSession(id)?.id);
    for (const [i, id] of before.entries()) {
      if (id === urls[0]) assert.notEqual(after[i], urls[0]);
      else assert.equal(after[i], id, "a live replica's sessions stay");
    }
  });
});
