import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { RedisEventStore } from "../../src/ha/redis-event-store.js";
import type { RedisClient } from "../../src/redis/client.js";
import { sleep } from "../helpers/procs.js";
import { DEPLOYMENTS, type RedisDeployment, startDeployment } from "../helpers/redis-topologies.js";

const note = (n: number): JSONRPCMessage => ({
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progressToken: 1, progress: n },
});

for (const kind of DEPLOYMENTS) {
  describe(`RedisEventStore (switchyard/ha) on real Redis (${kind})`, () => {
    let redis: RedisDeployment;
    let client: RedisClient;
    before(async () => {
      redis = await startDeployment(kind);
      client = await redis.client();
    });
    after(async () => {
      await redis?.stop();
    });

    async function replay(store: RedisEventStore, after: string) {
      const got: Array<[string, JSONRPCMessage]> = [];
      const stream = await store.replayEventsAfter(after, {
        send: async (id, message) => {
          got.push([id, message]);
        },
      });
      return { stream, got };
    }

    it("replays exactly the events after the last one seen, on that stream only, from any instance", async () => {
      const writer = new RedisEventStore(client, "session-1");
      const primed = await writer.storeEvent("post-1", {} as JSONRPCMessage);
      const ids = [];
      for (let i = 1; i <= 5; i++) ids.push(await writer.storeEvent("post-1", note(i)));
      await writer.storeEvent("post-2", note(99));
      await new RedisEventStore(client, "session-2").storeEvent("post-1", note(77));
      // Another node, another instance: the same events.
      const reader = new RedisEventStore(client, "session-1");
      assert.equal(await reader.getStreamIdForEventId(ids[1] as string), "post-1");
      const fromPriming = await replay(reader, primed);
      assert.equal(fromPriming.stream, "post-1");
      assert.deepEqual(
        fromPriming.got.map(([, m]) => (m as unknown as { params: { progress: number } }).params.progress),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(
        fromPriming.got.map(([id]) => id),
        ids,
        "each event under the id it was sent with",
      );
      const fromThird = await replay(reader, ids[2] as string);
      assert.deepEqual(
        fromThird.got.map(([id]) => id),
        ids.slice(3),
      );
      assert.equal((await reader.getStreamIdForEventId("not-an-event-id")) ?? "none", "none");
    });

    it("keeps each stream bounded and lets unused ones expire", async () => {
      const store = new RedisEventStore(client, "bounded", { maxEvents: 10, ttlMs: 300 });
      const first = await store.storeEvent("s", note(0));
      for (let i = 1; i <= 300; i++) await store.storeEvent("s", note(i));
      assert.ok((await client.xLen("swy:ha:ev:bounded:s")) < 200, "trimmed (approximately) to its bound");
      assert.ok((await replay(store, first)).got.length < 200);
      await sleep(400); // unused past its TTL on purpose: the expiry is under test
      assert.equal(await client.exists("swy:ha:ev:bounded:s"), 0, "gone once unused past its TTL");
    });
  });
}
