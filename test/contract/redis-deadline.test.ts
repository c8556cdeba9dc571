import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newRedisClient } from "../../src/redis/client.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

describe("a Redis client against a redis-server that hangs (SIGSTOP)", () => {
  const TIMEOUT_MS = 400;
  let redis: RedisServer;
  let client: ReturnType<typeof newRedisClient>;

  before(async () => {
    redis = await startRedis();
    client = newRedisClient({ url: redis.url, commandTimeoutMs: TIMEOUT_MS });
    await client.connect();
  });
  after(async () => {
    redis?.resume();
    await client?.close().catch(() => {});
    await redis?.stop();
  });

  it("fails a command at its deadline, then every command at once, and recovers after SIGCONT", async () => {
    await client.set("k", "v");
    redis.pause();
    try {
      let started = performance.now();
      await assert.rejects(client.get("k"), { code: "ERR_REDIS_TIMEOUT" });
      const first = performance.now() - started;
      assert.ok(first >= TIMEOUT_MS * 0.9, `waited for the deadline (${Math.round(first)} ms)`);
      // Tripped: nothing more is sent to a Redis that does not answer; a transaction neither.
      started = performance.now();
      await assert.rejects(client.get("k"), { code: "ERR_REDIS_TIMEOUT" });
      await assert.rejects(client.multi().get("k").get("k").exec(), { code: "ERR_REDIS_TIMEOUT" });
      assert.ok(performance.now() - started < TIMEOUT_MS, "refused at once while tripped");
    } finally {
      redis.resume();
    }
    await waitFor("the client to answer again once a PING is answered", () =>
      client.get("k").then(
        (v) => v === "v",
        () => false,
      ),
    );
    const [a, b] = (await client.multi().get("k").set("k2", "w").exec()) as unknown as [string, string];
    assert.deepEqual([a, b], ["v", "OK"], "transactions chain and run as before");
  });
});
