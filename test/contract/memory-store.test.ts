import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemorySessionStore } from "../../src/sessions/memory-store.js";
import { record, sessionStoreContract } from "./session-store.js";

describe("MemorySessionStore (contract)", () => {
  let now = 1_000_000;
  sessionStoreContract({
    create: async (idleTtlMs) => new MemorySessionStore({ idleTtlMs, maxSessions: 1000, now: () => now }),
    advance: async (ms) => {
      now += ms;
    },
    now: () => now,
  });
});

const rec = record("x");

describe("MemorySessionStore", () => {
  it("forgets the least recently used session past maxSessions", async () => {
    let now = 0;
    const s = new MemorySessionStore({ idleTtlMs: 60_000, maxSessions: 2, now: () => now });
    await s.learn("r", "a", rec);
    await s.learn("r", "b", rec);
    now += 2000;
    await s.get("r", "a"); // a is now the most recent
    await s.learn("r", "c", rec);
    assert.ok(await s.get("r", "a"));
    assert.equal(await s.get("r", "b"), undefined);
    assert.ok(await s.get("r", "c"));
    assert.equal(await s.size(), 2);
    await s.close();
  });

  it("sweeps expired sessions in the background", async () => {
    let now = 0;
    const s = new MemorySessionStore({ idleTtlMs: 1000, maxSessions: 10, now: () => now });
    await s.learn("r", "a", rec);
    now = 5000;
    s.sweep();
    assert.equal(await s.size(), 0);
    await s.close();
  });
});
