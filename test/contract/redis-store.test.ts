import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@redis/client";
import { RedisSessionStore } from "../../src/sessions/redis-store.js";
import { sleep } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { DEPLOYMENTS, type RedisDeployment, startDeployment } from "../helpers/redis-topologies.js";
import { waitFor } from "../helpers/wait.js";
import { record, sessionStoreContract } from "./session-store.js";

for (const kind of DEPLOYMENTS) {
  describe(`RedisSessionStore on real Redis (${kind})`, () => {
    let redis: RedisDeployment;
    const stores: RedisSessionStore[] = [];
    before(async () => {
      redis = await startDeployment(kind);
    });
    after(async () => {
      await Promise.all(stores.map((s) => s.close().catch(() => {})));
      await redis?.stop();
    });

    describe("contract", () => {
      let n = 0;
      sessionStoreContract({
        create: async (idleTtlMs) => {
          // Each contract test gets its own namespace on the shared server.
          const store = await RedisSessionStore.connect({ ...redis.options, idleTtlMs, prefix: `t${n++}:` });
          stores.push(store);
          return store;
        },
        advance: async (ms) => {
          await sleep(ms);
        },
        now: Date.now,
      });
    });

    it("keys hold a hash of the session id, never the id, and expire on their own", async () => {
      const store = await RedisSessionStore.connect({ ...redis.options, idleTtlMs: 60_000, prefix: "k:" });
      stores.push(store);
      await store.learn("svc", "RAW-SESSION-ID-123", record("http://10.0.0.5:3000/mcp", "svc"));
      const raw = await redis.client();
      const keys: string[] = [];
      for await (const found of raw.scanIterator({ MATCH: "k:*" })) keys.push(...found.map(String));
      assert.equal(keys.length, 1);
      assert.ok(!keys[0]?.includes("RAW-SESSION-ID-123"), "the key does not carry the session id");
      assert.match(String(keys[0]), /^k:s:svc:[A-Za-z0-9_-]{43}$/);
      const value = JSON.parse(String(await raw.get(String(keys[0]))));
      assert.deepEqual(
        {
          route: value.route,
          replica: value.replica,
          principal: value.principal,
          era: value.era,
        },
        { route: "svc", replica: "http://10.0.0.5:3000/mcp", principal: "p", era: "legacy" },
      );
      const ttl = await raw.pTTL(String(keys[0]));
      assert.ok(ttl > 55_000 && ttl <= 60_000, `the idle TTL is set (${ttl} ms)`);
      assert.equal(await store.size(), 1);
    });

    it("a session one gateway forgets is dropped from every other gateway's cache at once", async () => {
      const a = await RedisSessionStore.connect({ ...redis.options, idleTtlMs: 3_600_000, prefix: "inv:" });
      const b = await RedisSessionStore.connect({ ...redis.options, idleTtlMs: 3_600_000, prefix: "inv:" });
      stores.push(a, b);
      await a.learn("svc", "sid", record("r1", "svc"));
      assert.equal((await b.get("svc", "sid"))?.replica, "r1", "b has it (and caches it for 10 s)");
      await a.forget("svc", "sid");
      // Well under the 10 s that b would otherwise answer from its cache.
      await waitFor("b to drop the forgotten session", async () => (await b.get("svc", "sid")) === undefined, {
        timeoutMs: 5000,
      });
    });

    it("a revocation reaches every gateway at once, and a gateway started later loads it", async () => {
      const a = await RedisSessionStore.connect({ ...redis.options, idleTtlMs: 60_000, prefix: "rev:" });
      const b = await RedisSessionStore.connect({ ...redis.options, idleTtlMs: 60_000, prefix: "rev:" });
      stores.push(a, b);
      await a.revoke("svc", "RAW-TOKEN-abc", Date.now() + 60_000);
      await a.revoke("svc", "short-lived", Date.now() + 300);
      // b loads the list only when it connects: it can learn this one by pub/sub alone.
      await waitFor("b to learn the revocation by pub/sub", () => b.isRevoked("svc", "RAW-TOKEN-abc"), {
        timeoutMs: 5000,
      });
      await sleep(350); // past the short-lived revocation's end: its expiry is under test
      const c = await RedisSessionStore.connect({ ...redis.options, idleTtlMs: 60_000, prefix: "rev:" });
      stores.push(c);
      assert.equal(c.isRevoked("svc", "RAW-TOKEN-abc"), true, "c loaded the list when it connected");
      assert.equal(c.isRevoked("svc", "short-lived"), false);
      const raw = await redis.client();
      const members = await raw.zRange("rev:rev", 0, -1);
      assert.equal(members.length, 1, "expired revocations are dropped from Redis");
      assert.ok(!String(members[0]).includes("RAW-TOKEN"), "Redis holds a hash, never the token");
    });
  });
}

describe("RedisSessionStore on a real redis-server that dies", () => {
  let redis: RedisServer;
  const stores: RedisSessionStore[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close().catch(() => {})));
    await redis?.stop();
  });

  it("a revocation Redis lost (restarted empty) is written back by the gateways that hold it", async () => {
    const a = await RedisSessionStore.connect({ url: redis.url, idleTtlMs: 60_000, prefix: "lostrev:" });
    stores.push(a);
    await a.revoke("svc", "REVOKED-ID", Date.now() + 60_000);
    await redis.stop("SIGKILL");
    await redis.restart();
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      await waitFor("the gateway to write the revocation back", async () => (await raw.zCard("lostrev:rev")) === 1);
    } finally {
      await raw.close();
    }
    const later = await RedisSessionStore.connect({ url: redis.url, idleTtlMs: 60_000, prefix: "lostrev:" });
    stores.push(later);
    assert.equal(later.isRevoked("svc", "REVOKED-ID"), true, "a gateway started after the loss refuses it too");
  });

  it("keeps answering for cached sessions while Redis is down", async () => {
    const store = await RedisSessionStore.connect({ url: redis.url, idleTtlMs: 3_600_000, prefix: "cached:" });
    stores.push(store);
    await store.learn("svc", "known", record("r2", "svc"));
    await redis.stop("SIGKILL");
    assert.equal((await store.get("svc", "known"))?.replica, "r2");
    await assert.rejects(store.get("svc", "unknown"), "an unknown one cannot be looked up");
    await redis.restart();
  });

  it("fails fast while Redis is down, and works again once it is back, without a new store", async () => {
    const store = await RedisSessionStore.connect({ url: redis.url, idleTtlMs: 60_000, prefix: "down:" });
    stores.push(store);
    await redis.stop("SIGKILL");
    const started = Date.now();
    await assert.rejects(store.get("svc", "x"));
    assert.ok(Date.now() - started < 1500, "no request waits on a dead Redis");
    await redis.restart();
    await waitFor("the store to reconnect by itself", () =>
      store.get("svc", "x").then(
        () => true,
        () => false,
      ),
    );
  });
});
