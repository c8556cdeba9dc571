import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileDocument } from "../../src/tenancy/file-document.js";
import { RedisRateLimiter } from "../../src/tenancy/rate-limiter.js";
import { RedisDocument } from "../../src/tenancy/redis-document.js";
import { RedisSessionLedger } from "../../src/tenancy/redis-session-ledger.js";
import { emptyTenancy, TenantRegistry } from "../../src/tenancy/registry.js";
import { MemorySessionLedger } from "../../src/tenancy/session-ledger.js";
import { sleep } from "../helpers/procs.js";
import { DEPLOYMENTS, useDeployment } from "../helpers/redis-topologies.js";
import { waitFor } from "../helpers/wait.js";

describe("the tenancy document on disk", () => {
  it("on disk: a registry reads back what another wrote", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "swy-doc-")), "tenants.json");
    const first = new TenantRegistry(new FileDocument(path, emptyTenancy));
    assert.equal(await first.create("acme", { quotas: { rps: 3 } }), true);
    assert.equal(await first.create("acme"), false, "exists");
    const key = await first.addKey("acme");
    const again = new TenantRegistry(new FileDocument(path, emptyTenancy));
    assert.deepEqual(again.get("acme")?.quotas, { rps: 3 });
    assert.equal(again.ownerOfKeyHash(key?.hash as string)?.tenant, "acme");
  });
});

for (const kind of DEPLOYMENTS) {
  describe(`the tenancy document, rates and session ledger in Redis (${kind})`, () => {
    const redis = useDeployment(kind);

    async function shared(prefix: string) {
      const doc = await RedisDocument.connect({ ...redis().options, prefix }, emptyTenancy);
      redis().closeLater(() => doc.close());
      return new TenantRegistry(doc);
    }

    it("in Redis: every gateway sees a change at once, and none is lost when two write together", async () => {
      const [a, b] = await Promise.all([shared("d1:"), shared("d1:")]);
      assert.equal(await a.create("acme"), true);
      const key = await a.addKey("acme");
      await waitFor(
        "the new key to be announced to the other gateway",
        () => b.ownerOfKeyHash(key?.hash as string) !== undefined,
      );
      assert.equal(b.ownerOfKeyHash(key?.hash as string)?.tenant, "acme", "announced to the other gateway");
      // Twenty tenants created at once from two gateways: compare-and-set keeps every one.
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).create(`t${i}`)));
      const c = await shared("d1:");
      assert.equal(c.list().length, 21, "a gateway started later reads them all");
      await waitFor("a to see all 21 tenants", () => a.list().length >= 21);
      assert.equal(a.list().length, 21);
      assert.equal(await b.revokeKey("acme", key?.id as string), true);
      await waitFor(
        "a revoked key to stop working everywhere",
        () => a.ownerOfKeyHash(key?.hash as string) === undefined,
      );
    });

    it("in Redis: one token bucket per tenant for every gateway", async () => {
      const [x, y] = await Promise.all([
        RedisRateLimiter.connect({ ...redis().options, prefix: "rl1:" }),
        RedisRateLimiter.connect({ ...redis().options, prefix: "rl1:" }),
      ]);
      redis().closeLater(() => x.close());
      redis().closeLater(() => y.close());
      const waits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? x : y).take("acme", 1, 4)));
      assert.equal(waits.filter((w) => w === 0).length, 4, "the burst, once, across both gateways");
      assert.ok(waits.filter((w) => w > 0).every((w) => w <= 1000));
      assert.equal(await x.take("other", 1, 4), 0, "another tenant has its own bucket");
    });

    it("session ledgers (memory and Redis): listed per tenant until removed or idle", async () => {
      const redisLedger = await RedisSessionLedger.connect({ ...redis().options, prefix: "sl1:" }, 300);
      redis().closeLater(() => redisLedger.close());
      for (const ledger of [new MemorySessionLedger(300), redisLedger]) {
        const now = Date.now();
        const entry = (id: string) => ({
          id,
          server: "s1",
          replica: "http://r/mcp",
          principal: "key:abc",
          era: "legacy" as const,
          createdAt: now,
          lastSeenAt: now,
        });
        await ledger.add("acme", entry("one"));
        await ledger.add("acme", entry("two"));
        await ledger.add("globex", entry("three"));
        assert.equal(await ledger.count("acme"), 2);
        await ledger.remove("acme", "one");
        assert.deepEqual(
          (await ledger.list("acme")).map((e) => e.id),
          ["two"],
        );
        await sleep(350); // idle past the TTL on purpose: what is counted then is under test
        assert.equal(await ledger.count("acme"), 0, "idle past the TTL: not counted");
        assert.equal(await ledger.count("globex"), 0);
      }
    });
  });
}
