import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createClient } from "@redis/client";
import { SessionRegistry } from "../../src/ha/session-registry.js";
import { type HaNode, startHaNode, startRoundRobinNginx } from "../helpers/ha.js";
import { answerTo, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";

async function session(url: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: "ha-failover", version: "1.0.0" });
  await client.connect(transport);
  return {
    sid: () => transport.sessionId as string,
    async increment() {
      const r = await client.callTool({ name: "increment", arguments: {} });
      return r.structuredContent as { count: number; node: string };
    },
    async longTask(steps: number, delayMs: number) {
      const r = await client.callTool({ name: "long_task", arguments: { steps, delayMs } });
      return (r.content as Array<{ text: string }>)[0]?.text;
    },
    close: () => client.close(),
  };
}

/** `increment` in session `sid`, sent straight to one node (raw HTTP; the answer is an SSE stream). */
async function incrementAt(nodeUrl: string, sid: string, id: number) {
  const res = await rawRequest(nodeUrl, {
    headers: sessionHeaders(sid),
    body: rpc("tools/call", { name: "increment", arguments: {} }, id),
  });
  assert.equal(res.status, 200, res.body.toString());
  return answerTo(res, id).result?.structuredContent as { count: number; node: string };
}

describe("switchyard/ha: adoption races, graceful drain, Redis restarts", () => {
  let redis: RedisServer;
  let nodes: HaNode[];

  before(async () => {
    redis = await startRedis();
    nodes = await Promise.all(["p", "q", "r", "s"].map((n) => startHaNode(n, redis.url)));
  });
  after(async () => {
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    await redis?.stop();
  });

  it("lets exactly one of many claimers take a dead owner's session", async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    const registry = new SessionRegistry(client as never, "race:", 60_000);
    await registry.register("sess-1", "dead-node", { method: "initialize" });
    const winners = await Promise.all(
      Array.from({ length: 20 }, (_, i) => registry.claim("sess-1", "dead-node", `node-${i}`, false)),
    );
    const owner = winners[0] as string;
    assert.ok(owner.startsWith("node-"));
    assert.deepEqual(new Set(winners), new Set([owner]), "every claimer learns the one winner");
    assert.equal((await registry.lookup("sess-1"))?.owner, owner);
    await registry.heartbeat(owner, "http://127.0.0.1:1", 60_000);
    assert.equal(await registry.claim("sess-1", owner, "late", false), owner, "a live owner is not taken over");
    await client.close();
  });

  it("two nodes adopting the same session at once: one adopts, the other forwards to it", async () => {
    const [owner, b, c] = nodes as [HaNode, HaNode, HaNode];
    const s = await session(owner.url);
    assert.equal((await s.increment()).node, owner.node);
    owner.child.kill("SIGKILL");
    await owner.exited;
    const [x, y] = await Promise.all([incrementAt(b.url, s.sid(), 7), incrementAt(c.url, s.sid(), 8)]);
    assert.equal(x.node, y.node, "one replica serves the session");
    assert.deepEqual([x.count, y.count].sort(), [1, 2], "one server instance, not two");
    nodes = nodes.filter((n) => n !== owner);
  });

  it("a replica that drains finishes what it is doing, then hands its sessions over: the next request is served elsewhere", async () => {
    const lb = await startRoundRobinNginx(nodes.map((n) => n.url));
    try {
      const s = await session(lb.url);
      const first = await s.increment();
      const owner = nodes.find((n) => n.node === first.node) as HaNode;
      // A call under way when the replica is told to stop: it finishes there, within the grace.
      const underway = s.longTask(6, 100);
      await new Promise((r) => setTimeout(r, 150));
      const stopped = owner.stop("SIGTERM");
      assert.equal(await underway, `done on ${owner.node}`, "the call under way was answered, not cut");
      assert.equal(await stopped, 0, "drained and exited cleanly");
      nodes = nodes.filter((n) => n !== owner);
      const next = await s.increment();
      assert.notEqual(next.node, owner.node);
      assert.equal((await s.increment()).count, next.count + 1);
      await s.close();
    } finally {
      await lb.stop();
    }
  });

  it("a Redis restart (empty) loses no live session: each node puts its sessions back; nothing crashes", async () => {
    const lb = await startRoundRobinNginx(nodes.map((n) => n.url));
    try {
      const s = await session(lb.url);
      const before = await s.increment();
      await redis.stop();
      await redis.restart();
      // Nodes reconnect by themselves within a few hundred ms; until then a request may fail fast.
      let after: { count: number; node: string } | undefined;
      for (let i = 0; i < 50 && !after; i++) {
        after = await s.increment().catch(() => undefined);
        if (!after) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(after?.node, before.node, "still served by its owner");
      for (let i = 2; i <= 5; i++) assert.equal((await s.increment()).count, before.count + i, "its state intact");
      const fresh = await session(lb.url);
      assert.equal((await fresh.increment()).count, 1, "new sessions work");
      for (const n of nodes) assert.equal(n.child.exitCode, null, `${n.node} is still running`);
      await Promise.all([s.close(), fresh.close()]);
    } finally {
      await lb.stop();
    }
  });
});
