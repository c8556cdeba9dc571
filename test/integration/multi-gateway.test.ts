import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { INIT_BODY, is404, roundRobinSession } from "../helpers/mcp.js";
import {
  type GatewayProc,
  type Replica,
  sleep,
  startGateway,
  startReplica,
  svcConfig,
  writeConfig,
} from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";

describe("three gateways sharing one redis-server", () => {
  let redis: RedisServer;
  let replicas: Replica[];
  let gateways: GatewayProc[];

  before(async () => {
    redis = await startRedis();
    replicas = await Promise.all(["r1", "r2", "r3"].map((n) => startReplica(n)));
    const config = svcConfig(
      replicas,
      `store:
  url: ${redis.url}
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
    await redis?.stop();
  });

  it("routes every request of a session to its replica, whichever gateway it lands on", async () => {
    const sessions = await Promise.all(
      Array.from({ length: 12 }, () => roundRobinSession(gateways.map((g) => g.base))),
    );
    const owners: string[] = [];
    for (let round = 1; round <= 10; round++) {
      const answers = await Promise.all(sessions.map((s) => s.whoami()));
      answers.forEach((a, i) => {
        if (round === 1) owners[i] = a.replica;
        assert.equal(a.replica, owners[i], "a call left its session's replica");
        assert.equal(a.sessionCalls, round);
      });
    }
    assert.equal(new Set(owners).size, 3, "sessions spread over the replicas");
    await Promise.all(sessions.map((s) => s.close()));
  });

  it("kills a replica: every gateway answers 404 for its sessions; re-initializing works", async () => {
    const sessions = await Promise.all(Array.from({ length: 9 }, () => roundRobinSession(gateways.map((g) => g.base))));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const victim = replicas[0] as Replica;
    await victim.stop("SIGKILL");
    await sleep(700); // a health check or two
    for (const [i, s] of sessions.entries()) {
      const sid = s.transport.sessionId as string;
      if ((owners[i] as { replica: string }).replica !== victim.name) {
        assert.equal((await s.whoami()).sessionCalls, 2, "sessions on live replicas go on");
        continue;
      }
      for (const g of gateways) {
        const res = await rawRequest(g.route("svc"), {
          headers: sessionHeaders(sid),
          body: rpc("tools/list"),
        });
        assert.equal(res.status, 404, "every gateway knows the session is gone");
        assert.equal(errorCode(res).rpc, -32001);
      }
      await assert.rejects(s.whoami(), is404);
    }
    const fresh = await roundRobinSession(gateways.map((g) => g.base));
    const a = await fresh.whoami();
    assert.notEqual(a.replica, victim.name);
    assert.equal((await fresh.whoami()).replica, a.replica);
    await fresh.close();
  });

  it("survives a Redis restart: cached sessions go on, the rest gets 503 with Retry-After, recovery on its own", async () => {
    const s = await roundRobinSession(gateways.map((g) => g.base));
    // Three calls in a row land on the three gateways: each has looked the session up (the SDK's own GET
    // stream also takes a turn, but may still be on its way when Redis goes).
    for (let i = 0; i < 3; i++) await s.whoami();
    await redis.stop("SIGKILL");
    // Sessions the gateways already know keep reaching their replica...
    for (let i = 0; i < 3; i++) assert.equal((await s.whoami()).sessionCalls, i + 4);
    for (const g of gateways) {
      // ...a session a gateway cannot look up gets 503 at once, and so does a new one it could not store.
      const res = await rawRequest(g.route("svc"), {
        headers: sessionHeaders("never-seen-here"),
        body: rpc("tools/list"),
      });
      assert.equal(res.status, 503);
      assert.equal(errorCode(res).swy, "SWY_STORE_UNAVAILABLE");
      assert.ok(Number(res.headers["retry-after"]) >= 1);
      const init = await rawRequest(g.route("svc"), {
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } },
        }),
      });
      assert.equal(init.status, 503, "a session that could not be stored is not handed out");
      assert.equal((await fetch(`${g.base}/healthz`)).status, 200, "the gateway is alive");
    }
    await redis.restart();
    // New sessions work again on every gateway, without restarting them.
    const deadline = Date.now() + 10_000;
    let fresh: Awaited<ReturnType<typeof roundRobinSession>> | undefined;
    while (!fresh && Date.now() < deadline) {
      fresh = await roundRobinSession(gateways.map((g) => g.base)).catch(() => undefined);
      if (!fresh) await sleep(200);
    }
    assert.ok(fresh, "new sessions work again without restarting the gateways");
    for (let i = 1; i <= 6; i++) assert.equal((await fresh.whoami()).sessionCalls, i);
    await fresh.close();
    for (const g of gateways) assert.equal(g.child.exitCode, null, "no gateway crashed");
  });
});

describe("gateways share replica health through Redis", () => {
  let redis: RedisServer;
  let replicas: Replica[];
  let gateways: GatewayProc[];

  before(async () => {
    redis = await startRedis();
    replicas = await Promise.all(["a", "b"].map((n) => startReplica(n)));
    // Active checks off: a gateway can only learn that a replica died from its own requests, or from a peer.
    const config = svcConfig(
      replicas,
      `store:
  url: ${redis.url}
health:
  enabled: false
  cooldown: 60s
`,
      "balancer: round-robin",
    );
    gateways = await Promise.all([1, 2, 3].map(() => startGateway(["--config", config])));
  });
  after(async () => {
    await Promise.all((gateways ?? []).map((g) => g.stop()));
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await redis?.stop();
  });

  const healthy = async (g: GatewayProc) =>
    ((await (await fetch(`${g.base}/readyz`)).json()) as { routes: Record<string, { healthy: number }> }).routes.svc
      ?.healthy;

  it("what one gateway sees go down, every gateway marks down at once", async () => {
    const [g1, g2, g3] = gateways as [GatewayProc, GatewayProc, GatewayProc];
    const sessions = await Promise.all(Array.from({ length: 4 }, () => roundRobinSession([g1.base])));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const victim = replicas[0] as Replica;
    const index = owners.findIndex((o) => o.replica === victim.name);
    assert.ok(index >= 0, "a session lives on the victim");
    await victim.stop("SIGKILL");
    assert.equal(await healthy(g2), 2, "g2 has no way to know yet");
    // g1 meets the dead replica...
    await assert.rejects((sessions[index] as { whoami(): Promise<unknown> }).whoami(), is404);
    // ...and g2 and g3, which never tried it, learn at once.
    const deadline = Date.now() + 1000;
    while (((await healthy(g2)) !== 1 || (await healthy(g3)) !== 1) && Date.now() < deadline) await sleep(20);
    assert.equal(await healthy(g2), 1);
    assert.equal(await healthy(g3), 1);
  });
});

describe("a Redis that requires a password", () => {
  it("works with store.password and answers 503 (not a crash) with a wrong one", async () => {
    const redis = await startRedis({ password: "s3cret-pw" });
    const replica = await startReplica("r");
    const good = await startGateway([
      "--upstream",
      `svc=${replica.url}`,
      "--config",
      writeConfig(`logLevel: warn\nstore:\n  url: ${redis.url}\n  password: s3cret-pw\n`),
    ]);
    const bad = await startGateway([
      "--upstream",
      `svc=${replica.url}`,
      "--config",
      writeConfig(`logLevel: warn\nstore:\n  url: ${redis.url}\n  password: wrong\n`),
    ]);
    try {
      const init = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } },
      });
      const ok = await rawRequest(good.route("svc"), { body: init });
      assert.equal(ok.status, 200);
      const refused = await rawRequest(bad.route("svc"), { body: init });
      assert.equal(refused.status, 503);
      assert.equal(errorCode(refused).swy, "SWY_STORE_UNAVAILABLE");
      assert.ok(
        !bad.lines.join("\n").includes("wrong") && !good.lines.join("\n").includes("s3cret-pw"),
        "never logged",
      );
    } finally {
      await Promise.all([good.stop(), bad.stop()]);
      await replica.stop();
      await redis.stop();
    }
  });
});

describe("a Redis over TLS (rediss://) that requires a client certificate", () => {
  it("shares sessions with the CA and client certificate configured, and answers 503 without them", async () => {
    const redis = await startRedis({ tls: true });
    const pki = redis.pki as NonNullable<typeof redis.pki>;
    const replicas = await Promise.all(["r1", "r2"].map((n) => startReplica(n)));
    const upstream = `svc=${replicas.map((r) => r.url).join(",")}`;
    const tls = (lines: string) => writeConfig(`logLevel: warn\nstore:\n  url: ${redis.url}\n  tls:\n${lines}`);
    const full = tls(`    ca: ${pki.ca}\n    cert: ${pki.clientCert}\n    key: ${pki.clientKey}\n`);
    const gateways = await Promise.all([full, full].map((c) => startGateway(["--upstream", upstream, "--config", c])));
    const noClientCert = await startGateway(["--upstream", upstream, "--config", tls(`    ca: ${pki.ca}\n`)]);
    const untrusted = await startGateway([
      "--upstream",
      upstream,
      "--config",
      tls(`    cert: ${pki.clientCert}\n    key: ${pki.clientKey}\n`),
    ]);
    try {
      const session = await roundRobinSession(gateways.map((g) => g.base));
      const first = await session.whoami();
      for (let i = 2; i <= 4; i++) {
        const next = await session.whoami();
        assert.equal(next.replica, first.replica, "every request, on either gateway, reaches the session's replica");
        assert.equal(next.sessionCalls, i);
      }
      await session.close();
      for (const g of [noClientCert, untrusted]) {
        const refused = await rawRequest(g.route("svc"), { body: JSON.stringify(INIT_BODY) });
        assert.equal(refused.status, 503);
        assert.equal(errorCode(refused).swy, "SWY_STORE_UNAVAILABLE");
      }
    } finally {
      await Promise.all([...gateways, noClientCert, untrusted].map((g) => g.stop()));
      await Promise.all(replicas.map((r) => r.stop()));
      await redis.stop();
    }
  });
});
