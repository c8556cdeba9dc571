import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertGoneNotMoved, assertLivesOn, healthyReplicas, running } from "../helpers/affinity.js";
import { sessionHeaders } from "../helpers/http.js";
import { connect, MCP_HEADERS, type Session, type Whoami } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type GatewayProc,
  startAll,
  startGateway,
  startReplica,
  svcConfig,
} from "../helpers/procs.js";
import { waitFor } from "../helpers/wait.js";

describe("session affinity across three SDK replicas", () => {
  let replicas: ExampleReplica[];
  let gateway: GatewayProc;

  before(async () => {
    // Three kinds of replica for a session id they do not know: 404 (the specification), 400 (as
    // server-everything answers) and one that serves it anyway — a request moved there silently succeeds,
    // so only the gateway's own 404 can make these tests pass.
    replicas = await startAll([
      startReplica("r1"),
      startReplica("r2", undefined, { unknownSessions: "accept" }),
      startReplica("r3", undefined, { unknownSessions: "400" }),
    ]);
    const config = svcConfig(
      replicas,
      `health:
  interval: 300ms
  unhealthyThreshold: 1
`,
    );
    gateway = await startGateway(["--config", config]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it("probes every replica: each receives the gateway's health checks, over and over", async () => {
    // /readyz says healthy before any probe has run; the replicas themselves say whether probes arrive.
    const probes = async () =>
      (await Promise.all(replicas.map((r) => r.seen()))).map((s) => s.userAgents["switchyard-health"] ?? 0);
    await waitFor("every replica to receive health probes", async () => (await probes()).every((n) => n >= 1));
    const first = await probes();
    await waitFor("the probes to go on (interval 300ms)", async () =>
      (await probes()).every((n, i) => n >= (first[i] ?? 0) + 2),
    );
  });

  it("answers every call of every session from the replica that created it", async () => {
    const sessions = await Promise.all(Array.from({ length: 24 }, (_, i) => connect(gateway.route("svc"), `c${i}`)));
    const owners = new Map<Session, string>();
    for (let round = 1; round <= 15; round++) {
      const answers = await Promise.all(sessions.map((s) => s.whoami()));
      answers.forEach((a, i) => {
        const s = sessions[i] as Session;
        if (round === 1) owners.set(s, a.replica);
        assert.equal(a.replica, owners.get(s), "a call left its session's replica");
        // The per-session counter lives in the replica's memory: it only counts up if every call landed there.
        assert.equal(a.sessionCalls, round);
      });
    }
    const used = new Set(owners.values());
    assert.deepEqual([...used].sort(), ["r1", "r2", "r3"], "new sessions are spread over all replicas");
    await Promise.all(sessions.map((s) => s.close()));
  });

  it("DELETE ends the session upstream and the gateway forgets it", async () => {
    const s = await connect(gateway.route("svc"));
    await s.whoami();
    const sid = s.transport.sessionId as string;
    await s.transport.terminateSession();
    const res = await fetch(gateway.route("svc"), {
      method: "POST",
      headers: sessionHeaders(sid),
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: number; data: { code: string } } };
    assert.equal(body.error.code, -32001);
    assert.equal(body.error.data.code, "SWY_SESSION_NOT_FOUND", "answered by the gateway, upstream untouched");
  });

  it("passes an upstream's own 404 through and forgets the session", async () => {
    // A session on r1, the replica that answers 404 for a session it does not know.
    const owner = replicas[0] as ExampleReplica;
    let s = await connect(gateway.route("svc"));
    for (let i = 0; i < 12 && (await s.whoami()).replica !== owner.name; i++) {
      await s.close();
      s = await connect(gateway.route("svc"));
    }
    assert.equal((await s.whoami()).replica, owner.name);
    const sid = s.transport.sessionId as string;
    // End the session on the replica behind the gateway's back.
    const del = await fetch(owner.url, { method: "DELETE", headers: { "mcp-session-id": sid } });
    assert.equal(del.status, 200);
    const headers = sessionHeaders(sid);
    const body = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    const first = await fetch(gateway.route("svc"), { method: "POST", headers, body });
    assert.equal(first.status, 404);
    const upstreamBody = (await first.json()) as { error: { data?: unknown } };
    assert.equal(upstreamBody.error.data, undefined, "the upstream's body passes untouched");
    const second = await fetch(gateway.route("svc"), { method: "POST", headers, body });
    assert.equal(second.status, 404);
    assert.equal(
      ((await second.json()) as { error: { data: { code: string } } }).error.data.code,
      "SWY_SESSION_NOT_FOUND",
    );
  });

  it("kills a replica: its sessions get the gateway's 404 and re-initialize elsewhere; the others are untouched", async () => {
    const sessions = await Promise.all(Array.from({ length: 9 }, (_, i) => connect(gateway.route("svc"), `k${i}`)));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const victim = replicas[0] as ExampleReplica;
    const survivors = replicas.filter((r) => r !== victim);
    const onVictim = owners.filter((o) => o.replica === victim.name);
    assert.ok(onVictim.length > 0, "some session lives on the victim");
    for (const o of onVictim) await assertLivesOn(o, victim);
    await victim.stop("SIGKILL");
    for (const [i, s] of sessions.entries()) {
      const owner = owners[i] as Whoami;
      if (owner.replica === victim.name) {
        await assertGoneNotMoved(() => s.whoami(), owner, survivors);
        await assertGoneNotMoved(() => s.whoami(), owner, survivors); // and it stays gone
        const fresh = await connect(gateway.route("svc"));
        const a = await fresh.whoami();
        assert.notEqual(a.replica, victim.name);
        assert.equal(a.sessionCalls, 1);
        await fresh.close();
      } else {
        const a = await s.whoami();
        assert.equal(a.replica, owner.replica);
        assert.equal(a.sessionCalls, 2);
      }
    }
  });

  it("a replica restarted on the same address does not resurrect its old sessions", async () => {
    const target = replicas[1] as ExampleReplica;
    // Clients that do not reopen their GET stream: nothing touches the old sessions while the replica is
    // down, so the gateway still holds them when it comes back, and must refuse them then.
    const sessions = await Promise.all(
      Array.from({ length: 6 }, () => connect(gateway.route("svc"), "restart", undefined, { reconnect: false })),
    );
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const old = owners.filter((o) => o.replica === target.name);
    assert.ok(old.length > 0, "some session lives on the replica about to restart");
    for (const o of old) await assertLivesOn(o, target);
    const listen = new URL(target.url).host;
    await target.stop("SIGKILL");
    // Wait until the health checks have seen it down, then bring it back on the same port — as a server
    // that serves any session id it is sent: only the gateway can refuse the old sessions now.
    await waitFor("the gateway to see the replica down", async () => (await healthyReplicas(gateway)) === 1);
    const reborn = await startReplica("r2-reborn", listen, { unknownSessions: "accept" });
    replicas[1] = reborn;
    await waitFor("the gateway to see the replica back", async () => (await healthyReplicas(gateway)) === 2);
    for (const [i, s] of sessions.entries()) {
      const owner = owners[i] as Whoami;
      if (owner.replica === target.name) {
        await assertGoneNotMoved(() => s.whoami(), owner, running(replicas), ["SWY_SESSION_REPLICA_GONE"]);
      } else {
        assert.equal((await s.whoami()).sessionCalls, 2);
      }
    }
    const fresh = await connect(gateway.route("svc"));
    const seen = new Set<string>();
    // New sessions do reach the reborn replica (it is serving, not merely refused).
    for (let i = 0; i < 6 && !seen.has(reborn.name); i++) {
      const next = await connect(gateway.route("svc"));
      seen.add((await next.whoami()).replica);
      await next.close();
    }
    await fresh.close();
    assert.ok(seen.has(reborn.name), "the reborn replica takes new sessions");
  });

  it("answers 503 with Retry-After when every replica is down; /readyz reports the route, and stays ready", async () => {
    await Promise.all(replicas.map((r) => r.stop("SIGKILL")));
    await waitFor("every replica down", async () => (await healthyReplicas(gateway)) === 0);
    // One dead pool does not take the gateway out of its load balancer (health.readyRoutes would).
    assert.equal((await fetch(`${gateway.base}/readyz`)).status, 200);
    const res = await fetch(gateway.route("svc"), {
      method: "POST",
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
    });
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    assert.equal(
      ((await res.json()) as { error: { data: { code: string } } }).error.data.code,
      "SWY_NO_HEALTHY_UPSTREAM",
    );
    assert.equal((await fetch(`${gateway.base}/healthz`)).status, 200, "the process itself is fine");
  });
});
