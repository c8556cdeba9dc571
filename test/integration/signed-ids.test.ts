import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { assertGoneNotMoved, assertLivesOn, healthyReplicas } from "../helpers/affinity.js";
import { errorCode, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { INIT_BODY, roundRobinSession, type Whoami } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type GatewayProc,
  type Replica,
  startAll,
  startGateway,
  startReplica,
  svcConfig,
} from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

describe("signed session ids: three gateways, no store at all", () => {
  let replicas: ExampleReplica[];
  let gateways: GatewayProc[];
  const key = randomBytes(32).toString("base64");

  before(async () => {
    // The victim (r1) answers 404 for sessions it does not know; r2 answers 400 and r3 serves them anyway:
    // a session moved silently would not get the gateway's 404.
    replicas = await startAll([
      startReplica("r1"),
      startReplica("r2", undefined, { unknownSessions: "400" }),
      startReplica("r3", undefined, { unknownSessions: "accept" }),
    ]);
    const config = svcConfig(
      replicas,
      `affinity: token
tokens:
  keys:
    - id: 7
      secret: ${key}
health:
  interval: 300ms
  unhealthyThreshold: 1
`,
    );
    gateways = await Promise.all([1, 2, 3].map(() => startGateway(["--config", config])));
  });
  after(async () => {
    await Promise.all((gateways ?? []).map((g) => g.stop()));
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it("hands out a signed id and routes every request by it, on any gateway", async () => {
    const sessions = await Promise.all(Array.from({ length: 9 }, () => roundRobinSession(gateways.map((g) => g.base))));
    const owners: string[] = [];
    for (let round = 1; round <= 8; round++) {
      const answers = await Promise.all(sessions.map((s) => s.whoami()));
      answers.forEach((a, i) => {
        if (round === 1) owners[i] = a.replica;
        assert.equal(a.replica, owners[i]);
        assert.equal(a.sessionCalls, round);
      });
    }
    assert.equal(new Set(owners).size, 3);
    const sid = sessions[0]?.transport.sessionId as string;
    assert.ok(sid.length < 256 && /^[A-Za-z0-9_-]+$/.test(sid), "a compact, valid Mcp-Session-Id");
    assert.ok(!/^[0-9a-f]{8}-/.test(sid), "not the upstream's UUID");
    await Promise.all(sessions.map((s) => s.close()));
  });

  it("refuses tampered, truncated and foreign tokens with 404 and keeps serving", async () => {
    const init = await rawRequest(gateways[0]?.route("svc") as string, { body: JSON.stringify(INIT_BODY) });
    const token = init.headers["mcp-session-id"] as string;
    const flipped = `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`;
    const foreign = Buffer.from(token, "base64url");
    foreign[0] = 9;
    for (const bad of [flipped, token.slice(0, 30), foreign.toString("base64url"), "x".repeat(40)]) {
      for (const g of gateways) {
        const res = await rawRequest(g.route("svc"), {
          headers: sessionHeaders(bad),
          body: rpc("tools/list"),
        });
        assert.equal(res.status, 404);
        assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND");
      }
    }
    const good = await rawRequest(gateways[2]?.route("svc") as string, {
      headers: sessionHeaders(token),
      body: rpc("notifications/initialized", {}, null),
    });
    assert.equal(good.status, 202, "the genuine token still works, on another gateway");
  });

  it("kills a replica: every gateway answers its own 404 for its sessions, none moves", async () => {
    const sessions = await Promise.all(Array.from({ length: 6 }, () => roundRobinSession(gateways.map((g) => g.base))));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const victim = replicas[0] as ExampleReplica;
    const survivors = replicas.slice(1);
    const onVictim = owners.filter((o) => o.replica === victim.name);
    assert.ok(onVictim.length > 0, "some session lives on the victim");
    for (const o of onVictim) await assertLivesOn(o, victim);
    await victim.stop("SIGKILL");
    await waitFor("every gateway to see the victim down", async () =>
      (await Promise.all(gateways.map((g) => healthyReplicas(g)))).every((h) => h === 2),
    );
    for (const [i, s] of sessions.entries()) {
      const owner = owners[i] as Whoami;
      if (owner.replica !== victim.name) continue;
      for (const g of gateways) {
        const res = await rawRequest(g.route("svc"), {
          headers: sessionHeaders(s.transport.sessionId as string),
          body: rpc("tools/list"),
        });
        assert.equal(res.status, 404);
        // The token still opens: the gateway knows whose session it is, and that its replica went down.
        assert.equal(errorCode(res).swy, "SWY_SESSION_REPLICA_GONE");
      }
      await assertGoneNotMoved(() => s.whoami(), owner, survivors, ["SWY_SESSION_REPLICA_GONE"]);
    }
    const fresh = await roundRobinSession(gateways.map((g) => g.base));
    assert.notEqual((await fresh.whoami()).replica, victim.name);
    await fresh.close();
  });

  it("refuses a token older than tokens.maxAge", async () => {
    const config = svcConfig(
      replicas.slice(1),
      `affinity: token
tokens:
  keys: [{ id: 7, secret: ${key} }]
  maxAge: 1s
`,
    );
    const g = await startGateway(["--config", config]);
    try {
      const init = await rawRequest(g.route("svc"), { body: JSON.stringify(INIT_BODY) });
      const token = init.headers["mcp-session-id"] as string;
      const headers = sessionHeaders(token);
      assert.equal(
        (await rawRequest(g.route("svc"), { headers, body: rpc("notifications/initialized", {}, null) })).status,
        202,
      );
      await new Promise((r) => setTimeout(r, 2100));
      const late = await rawRequest(g.route("svc"), { headers, body: rpc("tools/list") });
      assert.equal(late.status, 404);
      assert.equal(errorCode(late).swy, "SWY_SESSION_NOT_FOUND");
    } finally {
      await g.stop();
    }
  });
});

describe("signed session ids revoked at DELETE, shared through Redis", () => {
  let redis: RedisServer;
  let replicas: Replica[];
  let gateways: GatewayProc[];
  let config: string;

  before(async () => {
    redis = await startRedis();
    replicas = await Promise.all(["r1", "r2"].map((n) => startReplica(n)));
    config = svcConfig(
      replicas,
      `affinity: token
tokens:
  keys: [{ id: 1, secret: ${randomBytes(32).toString("base64")} }]
store:
  url: ${redis.url}
`,
    );
    gateways = await Promise.all([1, 2, 3].map(() => startGateway(["--config", config])));
  });
  after(async () => {
    await Promise.all((gateways ?? []).map((g) => g.stop()));
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await redis?.stop();
  });

  it("a session deleted on one gateway is refused by every gateway, and by one started later", async () => {
    const [g1, g2, g3] = gateways as [GatewayProc, GatewayProc, GatewayProc];
    const init = await rawRequest(g1.route("svc"), { body: JSON.stringify(INIT_BODY) });
    const token = init.headers["mcp-session-id"] as string;
    const headers = sessionHeaders(token);
    const initialized = await rawRequest(g2.route("svc"), {
      headers,
      body: rpc("notifications/initialized", {}, null),
    });
    assert.equal(initialized.status, 202);
    const other = await rawRequest(g1.route("svc"), { body: JSON.stringify(INIT_BODY) });
    const otherHeaders = sessionHeaders(other.headers["mcp-session-id"] as string);

    const deleted = await rawRequest(g2.route("svc"), { method: "DELETE", headers });
    assert.equal(deleted.status, 200);
    for (const g of [g1, g2, g3]) {
      // The revocation reaches every gateway through Redis (the upstream, asked, would answer its own 404).
      let res = await rawRequest(g.route("svc"), { headers, body: rpc("tools/list") });
      await waitFor("the revocation to reach every gateway", async () => {
        res = await rawRequest(g.route("svc"), { headers, body: rpc("tools/list") });
        return res.status === 404;
      });
      assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND", "the gateway refuses it, not the upstream");
    }
    const late = await startGateway(["--config", config]);
    try {
      const res = await rawRequest(late.route("svc"), { headers, body: rpc("tools/list") });
      assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND", "the list is loaded at start");
      const alive = await rawRequest(late.route("svc"), {
        headers: otherHeaders,
        body: rpc("notifications/initialized", {}, null),
      });
      assert.equal(alive.status, 202, "another session is untouched");
    } finally {
      await late.stop();
    }
  });
});
