import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import { modernBody, modernHeaders } from "../helpers/mcp.js";
import { owned, type Replica, startDualEra } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { openSse } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait.js";

/** The Redis channel of `RedisServerEventBus` (default prefix): every replica publishes and listens there. */
const BUS = "swy:ha:bus";

describe("switchyard/ha for the modern protocol: change events shared through Redis (SDK v2 ServerEventBus)", () => {
  const procs = owned();
  let redis: RedisServer;
  let a: Replica;
  let b: Replica;

  before(async () => {
    redis = await procs.own(startRedis());
    [a, b] = await Promise.all([
      procs.own(startDualEra("bus-a", ["--redis", redis.url])),
      procs.own(startDualEra("bus-b", ["--redis", redis.url])),
    ]);
  });
  after(() => procs.stopAll());

  const listen = (replica: Replica, id: string) =>
    openSse(replica.url, {
      method: "POST",
      headers: modernHeaders("subscriptions/listen"),
      body: modernBody("subscriptions/listen", { notifications: { toolsListChanged: true } }, id),
    });
  const notify = (replica: Replica) => fetch(replica.url.replace(/\/mcp$/, "/notify"), { method: "POST" });
  const changes = (raw: string) => raw.split("notifications/tools/list_changed").length - 1;

  it("delivers a change raised on one replica to listeners on every replica, once each", async () => {
    // The test watches the bus's channel too: what the replicas published, in the order Redis took it.
    const watcher = createClient({ url: redis.url });
    const publisher = createClient({ url: redis.url });
    await Promise.all([watcher.connect(), publisher.connect()]);
    const published: string[] = [];
    await watcher.subscribe(BUS, (message) => published.push(message));
    try {
      const [onA, onB] = await Promise.all([listen(a, "listen-a"), listen(b, "listen-b")]);
      await Promise.all(
        [onA, onB].map((s) => s.next((e) => e.data.includes("notifications/subscriptions/acknowledged"))),
      );
      assert.equal((await notify(b)).status, 200);
      const got = await onA.next((e) => e.data.includes("notifications/tools/list_changed"));
      assert.match(got.data, /"io.modelcontextprotocol\/subscriptionId":"listen-a"/, "stamped for A's own stream");
      await onB.next((e) => e.data.includes("notifications/tools/list_changed"));
      await notify(a);
      // Both changes are on the channel; then a barrier of the test's own after them. Redis delivers a
      // channel's messages in order: once each listener has the barrier, any echo of B's change or A's
      // (a replica hearing its own event back) would have arrived before it.
      await waitFor("both replicas' changes published on the bus", () => published.length >= 2);
      await publisher.publish(
        BUS,
        JSON.stringify({ origin: "test-barrier", event: { kind: "tools_list_changed", params: { barrier: "b-1" } } }),
      );
      await Promise.all([onA, onB].map((s) => s.next((e) => e.data.includes('"barrier":"b-1"'))));
      assert.equal(changes(onA.raw()) - 1, 2, "A: the remote change and its own, no echo");
      assert.equal(changes(onB.raw()) - 1, 2, "B: its own change and the remote one, no echo");
      onA.close();
      onB.close();
    } finally {
      await Promise.all([watcher.close(), publisher.close()]);
    }
  });
});
