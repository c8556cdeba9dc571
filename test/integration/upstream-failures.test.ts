import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest, rpc } from "../helpers/http.js";
import { connect } from "../helpers/mcp.js";
import {
  freePort,
  type GatewayProc,
  type Replica,
  sleep,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { type FixtureServer, startFixture } from "../helpers/upstream.js";

describe("active health checks", () => {
  it("probe replicas whose GET answers with SSE (endless, or with a length) without harm", async () => {
    const streaming = await startFixture((req, res) => {
      if (req.url?.includes("endless")) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: open\n\n");
      } else {
        const body = "event: message\ndata: {}\n\n".repeat(3);
        res.writeHead(200, { "content-type": "text/event-stream", "content-length": Buffer.byteLength(body) });
        res.end(body);
      }
    });
    const gateway = await startGateway([
      "--upstream",
      `s=${streaming.url}?endless`,
      "--upstream",
      `t=${streaming.url}`,
      "--config",
      writeConfig("logLevel: warn\nhealth:\n  interval: 100ms\n"),
    ]);
    try {
      await sleep(1000);
      const ready = await fetch(`${gateway.base}/readyz`);
      assert.equal(ready.status, 200, "the replica is healthy and the gateway alive");
    } finally {
      await gateway.stop();
      await streaming.close();
    }
  });
});

describe("upstream failures", () => {
  let silent: FixtureServer;
  let live: Replica;
  let gateway: GatewayProc;
  let deadUrl: string;

  before(async () => {
    // Accepts the connection and the request, then never answers.
    silent = await startFixture(() => {});
    live = await startReplica("live");
    deadUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    gateway = await startGateway([
      "--config",
      writeConfig(`
logLevel: warn
upstreams:
  silent:
    replicas: [${silent.url}]
  mixed:
    replicas: [${deadUrl}, ${live.url}]
    balancer: round-robin
timeouts:
  upstreamHeaders: 400ms
health:
  enabled: false
  cooldown: 60s
`),
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await live?.stop();
    await silent?.close();
  });

  it("answers 504 with a JSON-RPC error when a replica does not answer in time", async () => {
    const started = Date.now();
    const res = await rawRequest(gateway.route("silent"), { body: rpc("tools/list", {}, 7) });
    assert.equal(res.status, 504);
    assert.deepEqual(errorCode(res), { rpc: -32000, swy: "SWY_UPSTREAM_TIMEOUT" });
    assert.equal((JSON.parse(res.body.toString()) as { id: number }).id, 7);
    assert.ok(Date.now() - started < 3000);
  });

  it("moves a new session off a replica that refuses connections, and marks it down", async () => {
    // Round-robin would send every other initialize to the dead replica: each must still succeed.
    for (let i = 0; i < 4; i++) {
      const s = await connect(gateway.route("mixed"));
      assert.equal((await s.whoami()).replica, "live");
      await s.close();
    }
    const ready = (await (await fetch(`${gateway.base}/readyz`)).json()) as {
      routes: Record<string, { healthy: number; replicas: number }>;
    };
    assert.deepEqual(ready.routes.mixed, { healthy: 1, replicas: 2 });
  });
});
