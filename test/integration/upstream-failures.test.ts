import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest, rpc } from "../helpers/http.js";
import { connect } from "../helpers/mcp.js";
import { type GatewayProc, type Replica, startGateway, startReplica, writeConfig } from "../helpers/procs.js";
import { type FixtureServer, startFixture } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait.js";

/** Where nothing listens (the discard port: privileged, no test binds it), never a port another test may take. */
const DEAD_URL = "http://127.0.0.1:9/mcp";

describe("active health checks", () => {
  it("probe replicas whose GET answers with SSE (endless, or with a length) without harm", async () => {
    const probes = { endless: 0, sized: 0 };
    const streaming = await startFixture((req, res) => {
      if (req.headers["user-agent"] === "switchyard-health")
        probes[req.url?.includes("endless") ? "endless" : "sized"]++;
      if (req.url?.includes("endless")) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: open\n\n");
      } else {
        const body = "event: message\ndata: {}\n\n".repeat(3);
        res.writeHead(200, { "content-type": "text/event-stream", "content-length": Buffer.byteLength(body) });
        res.end(body);
      }
    });
    let gateway: GatewayProc | undefined;
    try {
      gateway = await startGateway([
        "--upstream",
        `s=${streaming.url}?endless`,
        "--upstream",
        `t=${streaming.url}`,
        "--config",
        writeConfig("logLevel: warn\nhealth:\n  interval: 100ms\n"),
      ]);
      // The endless replica is probed as often as the other (same gateway, same interval: the baseline):
      // a probe that waited for the endless body would take the whole health timeout (2 s) each time.
      await waitFor("three health probes of each replica", () => probes.endless >= 3 && probes.sized >= 3);
      const { endless, sized } = probes;
      assert.ok(sized <= 2 * endless + 2, `${endless} probes of the endless replica, ${sized} of the other`);
      const ready = await fetch(`${gateway.base}/readyz`);
      assert.equal(ready.status, 200, "the replica is healthy and the gateway alive");
    } finally {
      await gateway?.stop();
      await streaming.close();
    }
  });
});

describe("upstream failures", () => {
  let silent: FixtureServer;
  let live: Replica;
  let gateway: GatewayProc;

  before(async () => {
    // Accepts the connection and the request, then never answers.
    silent = await startFixture(() => {});
    live = await startReplica("live");
    gateway = await startGateway([
      "--config",
      writeConfig(`
logLevel: warn
upstreams:
  silent:
    replicas: [${silent.url}]
  mixed:
    replicas: [${DEAD_URL}, ${live.url}]
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
    const ms = Date.now() - started;
    assert.equal(res.status, 504);
    assert.deepEqual(errorCode(res), { rpc: -32000, swy: "SWY_UPSTREAM_TIMEOUT" });
    assert.equal((JSON.parse(res.body.toString()) as { id: number }).id, 7);
    // The configured 400 ms (undici's timers are coarse: about 1 s here), not the 120 s default.
    assert.ok(ms < 60_000, `answered after ${ms} ms`);
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
