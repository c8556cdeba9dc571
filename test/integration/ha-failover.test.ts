import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createClient } from "@redis/client";
import { SessionRegistry } from "../../src/ha/session-registry.js";
import { type HaNode, startHaNode, startRoundRobinNginx, watchRedis } from "../helpers/ha.js";
import { answerTo, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { owned } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

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
    /** `long_task`; `underway` resolves at its first progress event (the replica is running it). */
    longTask(steps: number, delayMs: number) {
      let started!: () => void;
      const underway = new Promise<void>((r) => {
        started = r;
      });
      const answer = client
        .callTool({ name: "long_task", arguments: { steps, delayMs } }, undefined, { onprogress: () => started() })
        .then((r) => (r.content as Array<{ text: string }>)[0]?.text);
      return { underway, answer };
    },
    close: () => client.close(),
  };
}

type Session = Awaited<ReturnType<typeof session>>;

/** A session, listed in `opened` to be closed whatever the test's outcome (its GET stream goes with it). */
async function open(opened: Session[], url: string): Promise<Session> {
  const s = await session(url);
  opened.push(s);
  return s;
}

const closeAll = (opened: Session[]) => Promise.all(opened.map((s) => s.close().catch(() => {})));

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
  const procs = owned();
  let redis: RedisServer;
  let nodes: HaNode[];

  before(async () => {
    redis = await procs.own(startRedis());
    nodes = await Promise.all(["p", "q", "r", "s"].map((n) => procs.own(startHaNode(n, redis.url))));
  });
  after(() => procs.stopAll());

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
    const lb = await procs.own(startRoundRobinNginx(nodes.map((n) => n.url)));
    const opened: Session[] = [];
    try {
      const s = await open(opened, lb.url);
      const first = await s.increment();
      const owner = nodes.find((n) => n.node === first.node) as HaNode;
      // A call under way when the replica is told to stop (its first progress event came): it finishes
      // there, within the grace.
      const task = s.longTask(6, 100);
      await task.underway;
      const stopped = owner.stop("SIGTERM");
      assert.equal(await task.answer, `done on ${owner.node}`, "the call under way was answered, not cut");
      assert.equal(await stopped, 0, "drained and exited cleanly");
      nodes = nodes.filter((n) => n !== owner);
      const next = await s.increment();
      assert.notEqual(next.node, owner.node);
      assert.equal((await s.increment()).count, next.count + 1);
    } finally {
      await closeAll(opened);
      await lb.stop();
    }
  });

  it("a Redis restart (empty) loses no live session: each node puts its sessions back; nothing crashes", async () => {
    const lb = await procs.own(startRoundRobinNginx(nodes.map((n) => n.url)));
    const opened: Session[] = [];
    try {
      const s = await open(opened, lb.url);
      const before = await s.increment();
      const live = nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
      await redis.stop();
      await redis.restart();
      // The nodes reconnect by themselves: each one's heartbeat is back in the empty Redis, and the
      // owner has put its session back (with itself as the owner).
      const watch = await watchRedis(redis.url);
      try {
        await waitFor(
          "every node's heartbeat and the session's registry entry back in the restarted Redis",
          async () => {
            const alive = await Promise.all(live.map((n) => watch.alive(n.node)));
            return alive.every(Boolean) && (await watch.session(s.sid())) !== undefined;
          },
        );
        assert.deepEqual(await watch.session(s.sid()), { owner: before.node }, "put back by its owner");
      } finally {
        await watch.close();
      }
      const after = await s.increment();
      assert.equal(after.node, before.node, "still served by its owner");
      for (let i = 2; i <= 5; i++) assert.equal((await s.increment()).count, before.count + i, "its state intact");
      const fresh = await open(opened, lb.url);
      assert.equal((await fresh.increment()).count, 1, "new sessions work");
      for (const n of nodes) assert.equal(n.child.exitCode, null, `${n.node} is still running`);
    } finally {
      await closeAll(opened);
      await lb.stop();
    }
  });
});
