import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { isValidSessionId } from "../../src/protocol/headers.js";
import {
  MAX_SEALED_SESSION_ID_BYTES,
  openToken,
  replicaHash,
  sealToken,
  type TokenKey,
  TokenOpener,
} from "../../src/sessions/token.js";

const k1: TokenKey = { id: 1, secret: randomBytes(32) };
const k2: TokenKey = { id: 2, secret: randomBytes(32) };
const claims = {
  replica: replicaHash("http://10.0.0.5:3000/mcp"),
  createdAt: 1_800_000_000,
  upstreamSessionId: "3f1c2a9e-7b44-4e2a-9a51-0c6f1e2d3b4a",
};

describe("signed session ids", () => {
  it("round-trips, stays short, and shows nothing in clear", () => {
    const token = sealToken(k1, claims, "svc", "alice")!;
    assert.deepEqual(openToken([k1], token, "svc", "alice"), claims);
    assert.ok(token.length < 128, `${token.length} characters`);
    assert.match(token, /^[A-Za-z0-9_-]+$/, "a valid Mcp-Session-Id (visible ASCII)");
    const raw = Buffer.from(token, "base64url").toString("latin1");
    assert.ok(!raw.includes("3f1c2a9e") && !raw.includes("10.0.0.5"));
    assert.notEqual(sealToken(k1, claims, "svc", "alice"), token, "a fresh IV each time");
  });

  it("opens with any configured key (rotation), never with a foreign one", () => {
    const old = sealToken(k1, claims, "svc", "alice")!;
    assert.deepEqual(openToken([k2, k1], old, "svc", "alice"), claims);
    assert.equal(openToken([k2], old, "svc", "alice"), undefined);
    assert.equal(openToken([{ id: 1, secret: randomBytes(32) }], old, "svc", "alice"), undefined);
  });

  it("refuses tampered, truncated and malformed tokens, and other routes or principals", () => {
    const token = sealToken(k1, claims, "svc", "alice")!;
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

describe("signed session ids: regressions", () => {
  it("bug: a token with another spelling of the same bytes opened (and escaped its revocation)", () => {
    // Node's base64url decoder ignores a dangling last character and the spare low bits of the last one:
    // `${token}A`, or another last character, decoded to the same bytes. Revocations are kept by the
    // token's string, so a deleted session's variant still routed.
    for (let n = 30; n < 34; n++) {
      const token = sealToken(k1, { ...claims, upstreamSessionId: "x".repeat(n) }, "svc", "alice")!;
      for (const c of "AQgw_-") {
        assert.equal(openToken([k1], `${token}${c}`, "svc", "alice"), undefined, `${token.length} + ${c}`);
        if (c !== token.at(-1)) {
          assert.equal(openToken([k1], `${token.slice(0, -1)}${c}`, "svc", "alice"), undefined, `last → ${c}`);
        }
      }
    }
  });

  it("bug: a long upstream session id made a token longer than 256 characters, refused as a session id", () => {
    const long = { ...claims, upstreamSessionId: "s".repeat(200) };
    assert.equal(sealToken(k1, long, "svc", "alice"), undefined, "no token rather than an unusable one");
    const longest = { ...claims, upstreamSessionId: "s".repeat(MAX_SEALED_SESSION_ID_BYTES) };
    const token = sealToken(k1, longest, "svc", "alice")!;
    assert.ok(isValidSessionId(token), `${token.length} characters`);
    assert.deepEqual(openToken([k1], token, "svc", "alice"), longest);
  });

  it("bug: a token sealed with an empty upstream id did not open", () => {
    const empty = { ...claims, upstreamSessionId: "" };
    assert.deepEqual(openToken([k1], sealToken(k1, empty, "svc", "alice")!, "svc", "alice"), empty);
  });
});

describe("TokenOpener", () => {
  it("opens what openToken opens, remembers only what opened, per route and principal", () => {
    const opener = new TokenOpener([k1], 2);
    const token = sealToken(k1, claims, "svc", "alice")!;
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
