import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RedisServerEventBus } from "../../src/ha/redis-event-bus.js";
import { SessionRegistry } from "../../src/ha/session-registry.js";
import { RedisHealthBus } from "../../src/upstream/redis-health-bus.js";
import { DEPLOYMENTS, useDeployment } from "../helpers/redis-topologies.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The other users of Redis — replica health shared by gateways, switchyard/ha's event bus and session
 * registry — on every deployment: one server, Sentinel and a Cluster (where keys used together must share
 * a slot and pub/sub is sharded).
 */
for (const kind of DEPLOYMENTS) {
  describe(`replica health, the HA event bus and session registry on real Redis (${kind})`, () => {
    const redis = useDeployment(kind);

    it("a replica one gateway saw go down is known to another at once, and to a gateway started later", async () => {
      const heard: string[] = [];
      const options = { ...redis().options, prefix: "hb:" };
      const a = await RedisHealthBus.connect(options, () => {});
      const b = await RedisHealthBus.connect(options, (route, replica, _at, live) =>
        heard.push(`${route} ${replica} ${live ? "live" : "recorded"}`),
      );
      redis().closeLater(() => a.close());
      redis().closeLater(() => b.close());
      a.announceDown("svc", "http://10.0.0.5/mcp", Date.now());
      await waitFor("b to hear of the replica's death", () => heard.includes("svc http://10.0.0.5/mcp live"));
      const later: string[] = [];
      const c = await RedisHealthBus.connect(options, (route, replica, _at, live) =>
        later.push(`${route} ${replica} ${live ? "live" : "recorded"}`),
      );
      redis().closeLater(() => c.close());
      await waitFor("c to read the record", () => later.includes("svc http://10.0.0.5/mcp recorded"));
    });

    it("an event published on one HA node reaches the listeners of every other, once", async () => {
      const options = { ...redis().options };
      const [one, two] = await Promise.all([
        RedisServerEventBus.connect(options, "bus:"),
        RedisServerEventBus.connect(options, "bus:"),
      ]);
      redis().closeLater(() => one.close());
      redis().closeLater(() => two.close());
      const onOne: unknown[] = [];
      const onTwo: unknown[] = [];
      one.subscribe((e) => onOne.push(e));
      two.subscribe((e) => onTwo.push(e));
      one.publish({ kind: "toolsListChanged" });
      await waitFor("the other node to hear it", () => onTwo.length === 1);
      assert.equal(onOne.length, 1, "the publisher's own listeners hear it once, not again through Redis");
    });

    it("HA sessions: registered, looked up, claimed from a dead owner by exactly one node, in flight taken once", async () => {
      const client = await redis().client();
      const registry = new SessionRegistry(client, "reg:", 60_000);
      await registry.heartbeat("alive", "http://127.0.0.1:1/mcp", 60_000);
      await registry.register("s1", "alive", { method: "initialize" });
      await registry.register("s2", "dead", { method: "initialize" });
      assert.equal((await registry.lookup("s1"))?.owner, "alive");
      assert.equal(await registry.nodeUrl("alive"), "http://127.0.0.1:1/mcp");
      assert.equal(await registry.nodeUrl("dead"), undefined);
      assert.equal(await registry.claim("s1", "alive", "n2", false), "alive", "a live owner keeps its session");
      // Five nodes claim the dead owner's session at once: one wins, all agree on whom.
      const winners = await Promise.all(
        ["n1", "n2", "n3", "n4", "n5"].map((n) => registry.claim("s2", "dead", n, false)),
      );
      assert.equal(new Set(winners).size, 1, `one owner: ${winners.join(",")}`);
      assert.equal((await registry.lookup("s2"))?.owner, winners[0]);
      assert.equal(await registry.claim("unknown", "dead", "n1", false), undefined);
      await registry.requestStarted("s2", 7, "post-1");
      await registry.requestStarted("s2", "x", "post-2", { method: "tools/call" });
      await registry.requestEnded("s2", 7);
      const taken = await registry.takeInFlight("s2");
      assert.deepEqual(taken, [{ requestId: "x", streamId: "post-2", request: { method: "tools/call" } }]);
      assert.deepEqual(await registry.takeInFlight("s2"), [], "taken once");
    });
  });
}
