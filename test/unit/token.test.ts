import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { openToken, replicaHash, sealToken, type TokenKey, TokenOpener } from "../../src/sessions/token.js";

const k1: TokenKey = { id: 1, secret: randomBytes(32) };
const k2: TokenKey = { id: 2, secret: randomBytes(32) };
const claims = {
  replica: replicaHash("http://10.0.0.5:3000/mcp"),
  createdAt: 1_800_000_000,
  upstreamSessionId: "3f1c2a9e-7b44-4e2a-9a51-0c6f1e2d3b4a",
};

describe("signed session ids", () => {
  it("round-trips, stays short, and shows nothing in clear", () => {
    const token = sealToken(k1, claims, "svc", "alice");
    assert.deepEqual(openToken([k1], token, "svc", "alice"), claims);
    assert.ok(token.length < 128, `${token.length} characters`);
    assert.match(token, /^[A-Za-z0-9_-]+$/, "a valid Mcp-Session-Id (visible ASCII)");
    const raw = Buffer.from(token, "base64url").toString("latin1");
    assert.ok(!raw.includes("3f1c2a9e") && !raw.includes("10.0.0.5"));
    assert.notEqual(sealToken(k1, claims, "svc", "alice"), token, "a fresh IV each time");
  });

  it("opens with any configured key (rotation), never with a foreign one", () => {
    const old = sealToken(k1, claims, "svc", "alice");
    assert.deepEqual(openToken([k2, k1], old, "svc", "alice"), claims);
    assert.equal(openToken([k2], old, "svc", "alice"), undefined);
    assert.equal(openToken([{ id: 1, secret: randomBytes(32) }], old, "svc", "alice"), undefined);
  });

  it("refuses tampered, truncated and malformed tokens, and other routes or principals", () => {
    const token = sealToken(k1, claims, "svc", "alice");
    const raw = Buffer.from(token, "base64url");
    for (let i = 0; i < raw.length; i++) {
      const bad = Buffer.from(raw);
      bad[i] = (bad[i] as number) ^ 0x01;
      assert.equal(openToken([k1], bad.toString("base64url"), "svc", "alice"), undefined, `byte ${i} flipped`);
    }
    for (const cut of [1, 5, 16, token.length - 1]) {
      assert.equal(openToken([k1], token.slice(0, cut), "svc", "alice"), undefined, `cut at ${cut}`);
    }
    assert.equal(openToken([k1], `${token}!`, "svc", "alice"), undefined);
    assert.equal(openToken([k1], "a".repeat(300), "svc", "alice"), undefined);
    assert.equal(openToken([k1], token, "other", "alice"), undefined, "bound to the route");
    assert.equal(openToken([k1], token, "svc", "mallory"), undefined, "bound to the principal");
  });
});

describe("TokenOpener", () => {
  it("opens what openToken opens, remembers only what opened, per route and principal", () => {
    const opener = new TokenOpener([k1], 2);
    const token = sealToken(k1, claims, "svc", "alice");
    assert.deepEqual(opener.open(token, "svc", "alice"), claims);
    assert.deepEqual(opener.open(token, "svc", "alice"), claims, "again, from memory");
    assert.equal(opener.open(token, "svc", "mallory"), undefined, "memory is per principal");
    assert.equal(opener.open(token, "other", "alice"), undefined, "and per route");
    assert.equal(
      opener.open(`${token.slice(0, 10)}${token[10] === "A" ? "B" : "A"}${token.slice(11)}`, "svc", "alice"),
      undefined,
    );
  });
});
