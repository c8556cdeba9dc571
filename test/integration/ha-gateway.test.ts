import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { haClient as connect, type HaNode, longTaskThroughDeath, startHaNode } from "../helpers/ha.js";
import { answerTo, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { type GatewayProc, owned, startGateway, writeConfig } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";

describe("switchyard/ha through Switchyard: a pool with `sessions: shared`", () => {
  let redis: RedisServer;
  let nodes: HaNode[];
  let sticky: GatewayProc;
  let shared: GatewayProc;
  /** A second shared gateway, with its own memory store: it never sees the sessions made through `shared`. */
  let stranger: GatewayProc;

  const procs = owned();

  before(async () => {
    redis = await procs.own(startRedis());
    nodes = await Promise.all(["g1", "g2", "g3"].map((n) => procs.own(startHaNode(n, redis.url))));
    const route = (extra: string, top = "") =>
      writeConfig(
        `logLevel: warn\ndiscovery:\n  enabled: false\n${top}upstreams:\n  ha:\n    balancer: round-robin\n${extra}    replicas: [${nodes.map((n) => n.url).join(", ")}]\n`,
      );
    shared = await procs.own(startGateway(["--config", route("    sessions: shared\n")]));
    // Probes often (its probes' answers name each replica's node), and never marks a paused replica
    // down (the test pauses replicas on purpose).
    stranger = await procs.own(
      startGateway([
        "--config",
        route("    sessions: shared\n", "health:\n  interval: 100\n  timeout: 500\n  unhealthyThreshold: 1000\n"),
      ]),
    );
    sticky = await procs.own(startGateway(["--config", route("")]));
  });
  after(() => procs.stopAll());

  it("moves a session to a live replica when its own dies mid-call: progress once, an explicit error, the session goes on", async () => {
    const s = await connect(shared.route("ha"));
    const owner = (await s.increment()).node;
    // For contrast, a session of a sticky pool on the same replica (round-robin: one of three lands there).
    const stickies = await Promise.all([1, 2, 3].map(() => connect(sticky.route("ha"))));
    const placed = await Promise.all(stickies.map((c) => c.increment()));
    const bystander = stickies[placed.findIndex((p) => p.node === owner)];
    assert.ok(bystander, "a sticky session on the same replica");
    const victim = nodes.find((n) => n.node === owner) as HaNode;
    const sessionId = s.transport.sessionId;
    const { outcome, progress } = await longTaskThroughDeath(s, victim);
    assert.ok(outcome instanceof McpError, `an explicit error, not ${String(outcome)}`);
    assert.equal((outcome as McpError).code, -32003);
    assert.deepEqual(
      progress,
      progress.map((_, i) => i + 1),
      "every progress event sent before the death, exactly once",
    );
    assert.ok(progress.length >= 3 && progress.length < 20);
    const next = await s.increment();
    assert.notEqual(next.node, owner);
    assert.equal(s.transport.sessionId, sessionId, "the same session: no re-initialize");
    assert.equal((await s.increment()).count, next.count + 1);
    // A sticky pool answers 404 for the same loss: its client has to re-initialize.
    await assert.rejects(bystander.increment(), /404|Session not found/);
  });

  it("sends a session it never saw straight to the node its id names (the other replicas paused)", async () => {
    // One session on each live node (the first test killed one), made through the other gateway.
    const live = nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
    const byNode = new Map<string, Awaited<ReturnType<typeof connect>>>();
    for (let i = 0; i < 12 && byNode.size < live.length; i++) {
      const s = await connect(shared.route("ha"));
      const { node } = await s.increment();
      if (byNode.has(node)) await s.close();
      else byNode.set(node, s);
    }
    assert.equal(byNode.size, live.length, "one session on each live node");
    const sessions = [...byNode.values()];
    const counts = [...byNode.keys()].map((node) => ({ node }));
    // The stranger learnt each replica's node from its first probe, 100 ms after it started listening
    // (in `before`, long before here); no marker of the gateway's shows it. Had it not, a request would
    // go to the replica the id hashes to, most likely a paused one, and fail below.
    for (const [i, s] of sessions.entries()) {
      const owner = (counts[i] as { node: string }).node;
      const others = live.filter((n) => n.node !== owner);
      for (const n of others) n.child.kill("SIGSTOP");
      try {
        let timer: NodeJS.Timeout | undefined;
        const res = await Promise.race([
          rawRequest(stranger.route("ha"), {
            headers: sessionHeaders(s.transport.sessionId as string),
            body: rpc("tools/call", { name: "increment", arguments: {} }, 7),
          }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("sent to a paused replica")), 10_000);
          }),
        ]).finally(() => clearTimeout(timer));
        assert.equal(res.status, 200);
        const result = answerTo(res, 7).result as { structuredContent: { count: number; node: string } };
        assert.deepEqual(
          result.structuredContent,
          { count: 2, node: owner, session: s.transport.sessionId },
          "the session's own state, at its owner",
        );
        assert.equal(res.headers["x-switchyard-ha-node"], undefined, "the node's name stays inside");
      } finally {
        for (const n of others) n.child.kill("SIGCONT");
      }
    }
    // A sticky pool's gateway that never saw the session cannot route it: 404, the client re-initializes.
    const res = await rawRequest(sticky.route("ha"), {
      headers: sessionHeaders(sessions[0]?.transport.sessionId as string),
      body: rpc("tools/call", { name: "increment", arguments: {} }, 8),
    });
    assert.equal(res.status, 404);
    await Promise.all(sessions.map((s) => s.close()));
  });
});
