import assert from "node:assert/strict";
import { it } from "node:test";
import { revocationKey, sessionName } from "../../src/sessions/revocations.js";
import type { SessionRecord, SessionStore } from "../../src/sessions/store.js";

export interface StoreHarness {
  /** A fresh store with the given idle TTL. */
  create(idleTtlMs: number): Promise<SessionStore>;
  /** Let time pass for the store (wait, or advance a clock). */
  advance(ms: number): Promise<void>;
  /** The store's clock (epoch ms). */
  now(): number;
}

/** A session record as the gateway learns it. */
export function record(replica: string, route = "r", now = Date.now()): SessionRecord {
  return { route, replica, principal: "p", era: "legacy", createdAt: now, lastSeenAt: now };
}

/** The behaviour every SessionStore must have. Called from one test file per implementation. */
export function sessionStoreContract(h: StoreHarness): void {
  it("remembers a learned session and its replica", async () => {
    const s = await h.create(60_000);
    assert.equal(await s.learn("r", "sid-1", record("http://a/mcp")), true);
    const got = await s.get("r", "sid-1");
    assert.equal(got?.replica, "http://a/mcp");
    assert.equal(got?.principal, "p");
    assert.equal(await s.get("r", "other"), undefined);
    assert.equal(await s.get("other-route", "sid-1"), undefined, "sessions are per route");
    await s.close();
  });

  it("learns set-if-absent: the first replica wins", async () => {
    const s = await h.create(60_000);
    assert.equal(await s.learn("r", "sid", record("http://a/mcp")), true);
    assert.equal(await s.learn("r", "sid", record("http://b/mcp")), false);
    assert.equal((await s.get("r", "sid"))?.replica, "http://a/mcp");
    await s.close();
  });

  it("forgets", async () => {
    const s = await h.create(60_000);
    await s.learn("r", "sid", record("http://a/mcp"));
    await s.forget("r", "sid");
    assert.equal(await s.get("r", "sid"), undefined);
    await s.forget("r", "never-known");
    await s.close();
  });

  it("tells whether it holds a session without renewing it", async () => {
    const s = await h.create(1_000);
    await s.learn("r", "sid", record("http://a/mcp"));
    assert.equal(await s.has("r", "sid"), true);
    assert.equal(await s.has("r", "other"), false);
    await h.advance(600);
    assert.equal(await s.has("r", "sid"), true);
    await h.advance(600);
    assert.equal(await s.has("r", "sid"), false, "asking did not keep it alive");
    await s.close();
  });

  it("peeks without I/O only at what it holds fresh: never an unknown, forgotten or expired session", async () => {
    const s = await h.create(1_000);
    await s.learn("r", "sid", record("http://a/mcp"));
    // A store may hold a session fresh only once it has read or written it itself.
    const confirmed = await s.get("r", "sid");
    assert.deepEqual(s.peek("r", "sid"), confirmed, "just confirmed: held fresh");
    assert.equal(s.peek("r", "other"), undefined);
    assert.equal(s.peek("other-route", "sid"), undefined, "sessions are per route");
    await s.forget("r", "sid");
    assert.equal(s.peek("r", "sid"), undefined, "forgotten");
    await s.learn("r", "idle", record("http://a/mcp"));
    await s.get("r", "idle");
    await h.advance(1_200);
    assert.equal(s.peek("r", "idle"), undefined, "idle for 1200 ms > TTL");
    await s.close();
  });

  it("expires idle sessions, and each read renews the TTL", async () => {
    const s = await h.create(1_000);
    await s.learn("r", "busy", record("http://a/mcp"));
    await s.learn("r", "idle", record("http://a/mcp"));
    await h.advance(600);
    assert.ok(await s.get("r", "busy"));
    await h.advance(600);
    assert.ok(await s.get("r", "busy"), "renewed by the read 600 ms ago");
    assert.equal(await s.get("r", "idle"), undefined, "idle for 1200 ms > TTL");
    await s.close();
  });

  it("holds the session id only as a key, never in the record", async () => {
    const s = await h.create(60_000);
    await s.learn("r", "secret-session-id", record("http://a/mcp"));
    const got = await s.get("r", "secret-session-id");
    assert.ok(!JSON.stringify(got).includes("secret-session-id"));
    await s.close();
  });

  it("revokes a signed session id until it expires, per route, without holding the id", async () => {
    const s = await h.create(60_000);
    assert.equal(s.isRevoked("r", "token-1"), false);
    await s.revoke("r", "token-1", h.now() + 1_000);
    assert.equal(s.isRevoked("r", "token-1"), true);
    assert.equal(s.isRevoked("r", "token-2"), false);
    assert.equal(s.isRevoked("other-route", "token-1"), false, "revocations are per route");
    await h.advance(1_100);
    assert.equal(s.isRevoked("r", "token-1"), false, "past its expiry the token is refused by age; the entry goes");
    await s.revoke("r", "token-3", h.now() - 1);
    assert.equal(s.isRevoked("r", "token-3"), false, "an already expired token needs no entry");
    await s.close();
  });

  it("revokes by the revocation's name alone (an admin holds hashes, never ids)", async () => {
    const s = await h.create(60_000);
    await s.revokeKey(revocationKey("acme/s1", "session-9"), h.now() + 1_000);
    assert.equal(s.isRevoked("acme/s1", "session-9"), true);
    assert.equal(s.isRevoked("acme/s2", "session-9"), false);
    await s.close();
  });

  it("lists the sessions held, by route, most recent first, named by a hash, with their age and idle time", async () => {
    const s = await h.create(60_000);
    const started = h.now();
    await s.learn("a/b", "secret-session-1", record("http://a/mcp", "a/b", started));
    await h.advance(1_200);
    await s.learn("a/b", "secret-session-2", record("http://b/mcp", "a/b", h.now()));
    await s.learn("c", "secret-session-3", record("http://c/mcp", "c", h.now()));
    const all = await s.list(undefined, 100);
    assert.equal(all.sessions.length, 3);
    assert.equal(all.truncated, false);
    assert.ok(!JSON.stringify(all).includes("secret-session"), "no session id is listed");
    const ab = await s.list("a/b", 100);
    assert.deepEqual(
      ab.sessions.map((x) => x.record.replica),
      ["http://b/mcp", "http://a/mcp"],
      "one route's, most recently used first",
    );
    const first = ab.sessions[1];
    assert.equal(first?.record.createdAt, started);
    assert.match(String(first?.name), /^[A-Za-z0-9_-]{43}$/);
    const idle = h.now() - (first?.record.lastSeenAt ?? 0);
    assert.ok(idle >= 1_000 && idle < 5_000, `idle for ~1.2 s: ${idle} ms`);
    const one = await s.list(undefined, 2);
    assert.equal(one.sessions.length, 2);
    assert.equal(one.truncated, true);
    await s.close();
  });

  it("revokes a listed session by its name: forgotten, and its id refused from now on", async () => {
    const s = await h.create(60_000);
    await s.learn("a/b", "session-x", record("http://a/mcp", "a/b"));
    await s.learn("a/b", "session-y", record("http://b/mcp", "a/b"));
    // The name an operator sees is the hash of the id: the one listed with session-x's replica.
    const x = sessionName("session-x");
    const listed = (await s.list("a/b", 10)).sessions;
    assert.equal(listed.find((l) => l.name === x)?.record.replica, "http://a/mcp");
    const revoked = await s.revokeListed("a/b", x, h.now() + 60_000);
    assert.deepEqual(revoked, { revocation: revocationKey("a/b", "session-x"), replica: "http://a/mcp" });
    assert.equal(await s.get("a/b", "session-x"), undefined, "the revoked session is forgotten");
    assert.equal(s.isRevoked("a/b", "session-x"), true, "and its id refused, as a revoked signed id is");
    assert.ok(await s.get("a/b", "session-y"), "the other session stays");
    assert.equal(s.isRevoked("a/b", "session-y"), false);
    assert.equal(await s.revokeListed("a/b", x, h.now() + 60_000), undefined, "unknown now");
    assert.equal(await s.revokeListed("c", sessionName("session-y"), h.now() + 1), undefined, "names are per route");
    assert.ok(await s.get("a/b", "session-y"));
    await s.close();
  });
}
