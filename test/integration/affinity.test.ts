import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sessionHeaders } from "../helpers/http.js";
import { connect, is404, MCP_HEADERS, type Session } from "../helpers/mcp.js";
import { type GatewayProc, type Replica, sleep, startGateway, startReplica, svcConfig } from "../helpers/procs.js";

describe("session affinity across three SDK replicas", () => {
  let replicas: Replica[];
  let gateway: GatewayProc;

  before(async () => {
    replicas = await Promise.all(["r1", "r2", "r3"].map((n) => startReplica(n)));
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
    const s = await connect(gateway.route("svc"));
    const { replica } = await s.whoami();
    const sid = s.transport.sessionId as string;
    // End the session on the replica behind the gateway's back.
    const owner = replicas.find((r) => r.name === replica) as Replica;
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

  it("kills a replica: its sessions get 404 and re-initialize elsewhere; the others are untouched", async () => {
    const sessions = await Promise.all(Array.from({ length: 9 }, (_, i) => connect(gateway.route("svc"), `k${i}`)));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const victim = replicas[0] as Replica;
    assert.ok(
      owners.some((o) => o.replica === victim.name),
      "some session lives on the victim",
    );
    await victim.stop("SIGKILL");
    for (const [i, s] of sessions.entries()) {
      const owner = (owners[i] as { replica: string }).replica;
      if (owner === victim.name) {
        await assert.rejects(s.whoami(), is404, "a dead replica's session gets 404, never a silent move");
        await assert.rejects(s.whoami(), is404, "and stays gone");
        const fresh = await connect(gateway.route("svc"));
        const a = await fresh.whoami();
        assert.notEqual(a.replica, victim.name);
        assert.equal(a.sessionCalls, 1);
        await fresh.close();
      } else {
        const a = await s.whoami();
        assert.equal(a.replica, owner);
        assert.equal(a.sessionCalls, 2);
      }
    }
  });

  it("a replica restarted on the same address does not resurrect its old sessions", async () => {
    const target = replicas[1] as Replica;
    const sessions = await Promise.all(Array.from({ length: 6 }, () => connect(gateway.route("svc"))));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const listen = new URL(target.url).host;
    await target.stop("SIGKILL");
    // Wait until the health checks have seen it down, then bring it back on the same port.
    await waitFor(
      async () => ((await (await fetch(`${gateway.base}/readyz`)).json()) as ReadyBody).routes.svc?.healthy === 1,
    );
    const reborn = await startReplica("r2-reborn", listen);
    replicas[1] = reborn;
    await waitFor(
      async () => ((await (await fetch(`${gateway.base}/readyz`)).json()) as ReadyBody).routes.svc?.healthy === 2,
    );
    for (const [i, s] of sessions.entries()) {
      if ((owners[i] as { replica: string }).replica === target.name) {
        await assert.rejects(s.whoami(), is404);
      } else {
        assert.equal((await s.whoami()).sessionCalls, 2);
      }
    }
  });

  it("answers 503 with Retry-After when every replica is down, and /readyz says so", async () => {
    await Promise.all(replicas.map((r) => r.stop("SIGKILL")));
    await waitFor(async () => (await fetch(`${gateway.base}/readyz`)).status === 503);
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

interface ReadyBody {
  routes: Record<string, { healthy: number }>;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error("condition not reached in time");
}
