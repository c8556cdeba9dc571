import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { modernBody, modernHeaders } from "../helpers/mcp.js";
import { type Replica, sleep, startDualEra } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { openSse } from "../helpers/sse.js";

describe("switchyard/ha for the modern protocol: change events shared through Redis (SDK v2 ServerEventBus)", () => {
  let redis: RedisServer;
  let a: Replica;
  let b: Replica;

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([
      startDualEra("bus-a", ["--redis", redis.url]),
      startDualEra("bus-b", ["--redis", redis.url]),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  const listen = (replica: Replica, id: string) =>
    openSse(replica.url, {
      method: "POST",
      headers: modernHeaders("subscriptions/listen"),
      body: modernBody("subscriptions/listen", { notifications: { toolsListChanged: true } }, id),
    });
  const notify = (replica: Replica) => fetch(replica.url.replace(/\/mcp$/, "/notify"), { method: "POST" });
  const changes = (raw: string) => raw.split("notifications/tools/list_changed").length - 1;

  it("delivers a change raised on one replica to listeners on every replica, once each", async () => {
    const [onA, onB] = await Promise.all([listen(a, "listen-a"), listen(b, "listen-b")]);
    await Promise.all(
      [onA, onB].map((s) => s.next((e) => e.data.includes("notifications/subscriptions/acknowledged"))),
    );
    assert.equal((await notify(b)).status, 200);
    const got = await onA.next((e) => e.data.includes("notifications/tools/list_changed"));
    assert.match(got.data, /"io.modelcontextprotocol\/subscriptionId":"listen-a"/, "stamped for A's own stream");
    await onB.next((e) => e.data.includes("notifications/tools/list_changed"));
    await notify(a);
    await sleep(300);
    assert.equal(changes(onA.raw()), 2, "A: the remote change and its own, no echo");
    assert.equal(changes(onB.raw()), 2, "B: its own change and the remote one, no echo");
    onA.close();
    onB.close();
  });
});
