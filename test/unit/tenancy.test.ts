import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileDocument } from "../../src/tenancy/file-document.js";
import { hashKey, keyId, looksLikeKey, newKey } from "../../src/tenancy/keys.js";
import { TokenBuckets } from "../../src/tenancy/token-bucket.js";

describe("tenant keys", () => {
  it("are long random secrets kept only as a hash, named by a short id", () => {
    const a = newKey();
    const b = newKey();
    assert.notEqual(a.key, b.key);
    assert.ok(looksLikeKey(a.key));
    assert.equal(a.hash, hashKey(a.key));
    assert.equal(a.id, keyId(a.hash));
    assert.ok(!looksLikeKey("swy_short") && !looksLikeKey(`Bearer ${a.key}`));
  });
});

describe("token buckets", () => {
  it("allow a burst, then the rate, and say how long to wait", () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    const take = (key: string) => buckets.take(key, 2, 3);
    assert.deepEqual(
      [1, 2, 3].map(() => take("acme")),
      [0, 0, 0],
    );
    assert.equal(take("acme"), 500, "2 per second: the next token in 500 ms");
    assert.equal(take("other"), 0, "another tenant has its own bucket");
    now = 500;
    assert.equal(take("acme"), 0);
    assert.ok(take("acme") > 0);
    now = 10_000;
    buckets.sweep();
    assert.equal(buckets.size, 0, "refilled buckets are dropped");
  });
});

describe("the tenancy document on local disk", () => {
  it("survives a restart, writes atomically and privately", () => {
    const dir = mkdtempSync(join(tmpdir(), "swy-tenancy-"));
    const path = join(dir, "state", "tenants.json");
    const first = new FileDocument(path, () => ({ tenants: [] as string[] }));
    assert.equal(existsSync(path), false, "nothing written before the first change");
    first.updateSync((v) => v.tenants.push("acme"));
    first.updateSync((v) => v.tenants.push("globex"));
    const again = new FileDocument(path, () => ({ tenants: [] as string[] }));
    assert.deepEqual(again.get().tenants, ["acme", "globex"]);
    assert.deepEqual(readdirSync(join(dir, "state")), ["tenants.json"], "no temporary file left behind");
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.throws(() =>
      first.updateSync(() => {
        throw new Error("refused");
      }),
    );
    assert.deepEqual(
      JSON.parse(readFileSync(path, "utf8")).tenants,
      ["acme", "globex"],
      "a failed change changes nothing",
    );
    assert.deepEqual(first.get().tenants, ["acme", "globex"]);
  });
});
