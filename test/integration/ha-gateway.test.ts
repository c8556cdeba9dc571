import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { haClient as connect, type HaNode, longTaskThroughDeath, startHaNode } from "../helpers/ha.js";
import { type GatewayProc, startGateway, writeConfig } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";

describe("switchyard/ha through Switchyard: a pool with `sessions: shared`", () => {
  let redis: RedisServer;
  let nodes: HaNode[];
  let sticky: GatewayProc;
  let shared: GatewayProc;

  before(async () => {
    redis = await startRedis();
    nodes = await Promise.all(["g1", "g2", "g3"].map((n) => startHaNode(n, redis.url)));
    const route = (extra: string) =>
      writeConfig(
        `logLevel: warn\ndiscovery:\n  enabled: false\nupstreams:\n  ha:\n    balancer: round-robin\n${extra}    replicas: [${nodes.map((n) => n.url).join(", ")}]\n`,
      );
    shared = await startGateway(["--config", route("    sessions: shared\n")]);
    sticky = await startGateway(["--config", route("")]);
  });
  after(async () => {
    await Promise.all([shared?.stop(), sticky?.stop()]);
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    await redis?.stop();
  });

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
});
