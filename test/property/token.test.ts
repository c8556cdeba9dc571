import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ROUTE_NAME } from "../../src/config/schema.js";
import { isValidSessionId, MAX_SESSION_ID_LENGTH } from "../../src/protocol/headers.js";
import {
  MAX_SEALED_SESSION_ID_BYTES,
  openToken,
  replicaHash,
  sealToken,
  type TokenClaims,
  type TokenKey,
  TokenOpener,
} from "../../src/sessions/token.js";
import { runs } from "./runs.js";

/**
 * Signed session ids (`affinity: token`) are what a client holds instead of the upstream's id: they must
 * open to exactly what was sealed, on the route and for the principal that created them, and to nothing
 * else — not after any edit a client could make to the string.
 */

const KEYS: TokenKey[] = [
  { id: 7, secret: randomBytes(32) },
  { id: 200, secret: randomBytes(32) },
];
const SEALER = KEYS[0] as TokenKey;

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const visibleChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));

/** What learn.ts seals (an upstream `Mcp-Session-Id`: 1–256 visible ASCII) or sse-session.ts (a path and query). */
const upstreamId = fc.oneof(
  fc.string({ unit: visibleChar, minLength: 1, maxLength: 40 }),
  fc.string({ unit: visibleChar, minLength: 100, maxLength: 256, size: "max" }),
  fc.uuid(),
  fc.webPath().chain((p) => fc.webQueryParameters().map((q) => `${p || "/"}?${q}`)),
  fc.string({ unit: "binary", maxLength: 80 }),
);
const claims: fc.Arbitrary<TokenClaims> = fc.record(
  { replica: fc.nat({ max: 0xffff_ffff }), createdAt: fc.nat({ max: 0xffff_ffff }), upstreamSessionId: upstreamId },
  { noNullPrototype: true },
);
const route = fc.stringMatching(ROUTE_NAME);
/** Principals as authenticate.ts makes them (`key:…`, `jwt:…`, the anonymous one), and anything else without NUL. */
const principal = fc.oneof(
  fc.constant("anonymous"),
  fc.stringMatching(/^(key|jwt):[A-Za-z0-9_-]{1,22}$/),
  fc.string({ unit: "binary", maxLength: 30 }).filter((s) => !s.includes("\u0000")),
);

/** A claims set that fits in a session id (see MAX_SEALED_SESSION_ID_BYTES). */
const fits = (c: TokenClaims) => Buffer.byteLength(c.upstreamSessionId, "utf8") <= MAX_SEALED_SESSION_ID_BYTES;
const sealed = fc
  .record({ claims: claims.filter(fits), route, principal }, { noNullPrototype: true })
  .map((v) => ({ ...v, token: sealToken(SEALER, v.claims, v.route, v.principal) as string }));

describe("property: signed session ids", () => {
  it("seal → open gives back the claims, through openToken and TokenOpener, with any configured key", () => {
    const opener = new TokenOpener(KEYS, 64);
    fc.assert(
      fc.property(sealed, ({ claims, route, principal, token }) => {
        assert.deepEqual(openToken(KEYS, token, route, principal), claims);
        assert.deepEqual(openToken([...KEYS].reverse(), token, route, principal), claims, "key order");
        assert.deepEqual(opener.open(token, route, principal), claims);
        assert.deepEqual(opener.open(token, route, principal), claims, "again, from memory");
      }),
      runs(400),
    );
  });

  it("every token is a valid Mcp-Session-Id (1–256 visible ASCII), or nothing is sealed at all", () => {
    fc.assert(
      fc.property(claims, route, principal, (c, r, p) => {
        const token = sealToken(SEALER, c, r, p);
        if (!fits(c)) {
          assert.equal(token, undefined, "too long to seal: no token rather than one the gateway refuses");
          return;
        }
        assert.ok(token !== undefined && isValidSessionId(token), `${token?.length} characters`);
        assert.ok((token as string).length <= MAX_SESSION_ID_LENGTH);
      }),
      runs(400),
    );
  });

  it("the largest upstream id that fits still makes a token of at most 256 characters", () => {
    const id = "x".repeat(MAX_SEALED_SESSION_ID_BYTES);
    const token = sealToken(SEALER, { replica: 1, createdAt: 2, upstreamSessionId: id }, "r", "p");
    assert.ok(token !== undefined && isValidSessionId(token));
    assert.equal(sealToken(SEALER, { replica: 1, createdAt: 2, upstreamSessionId: `${id}x` }, "r", "p"), undefined);
  });

  it("any one-character change of the token opens to nothing (even after the original was opened)", () => {
    const opener = new TokenOpener(KEYS, 64);
    fc.assert(
      fc.property(
        sealed,
        fc.nat(),
        fc.oneof(fc.constantFrom(...BASE64URL), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })),
        ({ route, principal, token }, at, ch) => {
          const i = at % token.length;
          fc.pre(token[i] !== ch);
          const edited = `${token.slice(0, i)}${ch}${token.slice(i + 1)}`;
          opener.open(token, route, principal);
          assert.equal(openToken(KEYS, edited, route, principal), undefined, `char ${i} of ${token.length} → ${ch}`);
          assert.equal(opener.open(edited, route, principal), undefined);
        },
      ),
      runs(1000),
    );
  });

  it("no other last character opens (the decoder ignores its spare low bits)", () => {
    fc.assert(
      fc.property(sealed, fc.constantFrom(...BASE64URL), ({ route, principal, token }, ch) => {
        fc.pre(token.at(-1) !== ch);
        assert.equal(openToken(KEYS, `${token.slice(0, -1)}${ch}`, route, principal), undefined, `… ${ch}`);
      }),
      runs(500),
    );
  });

  it("any change of one byte of the sealed bytes opens to nothing", () => {
    fc.assert(
      fc.property(sealed, fc.nat(), fc.integer({ min: 1, max: 255 }), ({ route, principal, token }, at, xor) => {
        const raw = Buffer.from(token, "base64url");
        const i = at % raw.length;
        raw[i] = (raw[i] as number) ^ xor;
        assert.equal(openToken(KEYS, raw.toString("base64url"), route, principal), undefined, `byte ${i}`);
      }),
      runs(500),
    );
  });

  it("a truncated or extended token opens to nothing", () => {
    const opener = new TokenOpener(KEYS, 64);
    fc.assert(
      fc.property(
        sealed,
        fc.nat(),
        fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 1, maxLength: 8 }),
        fc.boolean(),
        ({ route, principal, token }, cut, tail, truncate) => {
          opener.open(token, route, principal);
          const edited = truncate ? token.slice(0, cut % token.length) : `${token}${tail}`;
          assert.equal(openToken(KEYS, edited, route, principal), undefined, truncate ? `cut at ${cut}` : `+${tail}`);
          assert.equal(opener.open(edited, route, principal), undefined);
        },
      ),
      runs(1000),
    );
  });

  it("a token opens on no other route and for no other principal", () => {
    const opener = new TokenOpener(KEYS, 64);
    fc.assert(
      fc.property(sealed, route, principal, ({ claims, route: r, principal: p, token }, r2, p2) => {
        fc.pre(r2 !== r || p2 !== p);
        assert.deepEqual(opener.open(token, r, p), claims);
        assert.equal(openToken(KEYS, token, r2, p2), undefined);
        assert.equal(opener.open(token, r2, p2), undefined);
        assert.equal(opener.open(token, r, p2 === p ? `${p}x` : p2), undefined);
        assert.equal(opener.open(token, r2 === r ? `${r}x` : r2, p), undefined);
      }),
      runs(500),
    );
  });

  it("a token never opens with a key it was not sealed with", () => {
    fc.assert(
      fc.property(sealed, fc.integer({ min: 0, max: 255 }), ({ route, principal, token }, id) => {
        const other: TokenKey = { id, secret: randomBytes(32) };
        assert.equal(openToken([other], token, route, principal), undefined);
      }),
      runs(200),
    );
  });

  it("replicaHash is a stable unsigned 32-bit number", () => {
    fc.assert(
      fc.property(fc.webUrl(), (url) => {
        const h = replicaHash(url);
        assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffff_ffff);
        assert.equal(replicaHash(url), h);
      }),
      runs(200),
    );
  });
});
