import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { alive, groupMembers, type HostProc, processEvents, STDIO_FIXTURE, startHost } from "../helpers/host.js";
import { connect, INIT_BODY, is404, MCP_HEADERS, modernBody, modernHeaders } from "../helpers/mcp.js";
import { startGateway, writeConfig } from "../helpers/procs.js";
import { metricValue, waitFor } from "../helpers/wait.js";

type Tool = Record<string, unknown>;
/** A JSON-RPC answer as these tests read it. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read deep into answers of several shapes
type Answer = Record<string, any>;
type Session = Awaited<ReturnType<typeof connect>>;

async function call(s: Session, name: string, args: Record<string, unknown> = {}): Promise<Tool> {
  const r = await s.client.callTool({ name, arguments: args });
  return r.structuredContent as Tool;
}

/** A modern (2026-07-28) tools/call, by hand: no session; the JSON answer. */
async function modernCall(url: string, name: string, args: Record<string, unknown>, id: number | string = 1) {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...modernHeaders("tools/call", name), accept: "application/json" },
    body: modernBody("tools/call", { name, arguments: args }, id),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

describe("switchyard host: one process per legacy session", () => {
  let host: HostProc;
  before(async () => {
    host = await startHost(["--pool", "1", "--idle-ttl", "1500ms"], undefined, {
      HOST_SECRET: "s3cret",
      ALLOWED: "yes",
    });
  });
  after(async () => {
    await host?.stop();
  });

  it("two sessions of a stateful server never see each other's state: each has a process of its own", async () => {
    const a = await connect(host.mcp);
    const b = await connect(host.mcp);
    try {
      assert.equal((await call(a, "count")).calls, 1);
      assert.equal((await call(a, "count")).calls, 2);
      assert.equal((await call(b, "count")).calls, 1, "b's process counts its own calls only");
      const [pa, pb] = [(await call(a, "whoami")).pid, (await call(b, "whoami")).pid];
      assert.notEqual(pa, pb);
      // The state survives across requests of one session: the same process answers every time.
      assert.equal((await call(a, "whoami")).pid, pa);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("N concurrent sessions run N processes; DELETE ends its process", async () => {
    // Sessions of the tests before (their clients left without DELETE) end by idle expiry first.
    await waitFor(
      "the sessions before to expire",
      async () => (await metricValue(`${host.base}/metrics`, "switchyard_host_sessions_active")) === 0,
    );
    const sessions = await Promise.all(Array.from({ length: 5 }, () => connect(host.mcp)));
    const pids = await Promise.all(sessions.map(async (s) => (await call(s, "whoami")).pid as number));
    assert.equal(new Set(pids).size, 5, "five processes");
    assert.equal(await metricValue(`${host.base}/metrics`, "switchyard_host_sessions_active"), 5);
    assert.equal(await metricValue(`${host.base}/metrics`, 'switchyard_host_processes{role="session"}'), 5);
    // Each session's process answered its first request: its start-up time is in the histogram.
    assert.ok(
      (await metricValue(`${host.base}/metrics`, 'switchyard_host_process_startup_seconds_count{role="session"}')) >= 5,
    );
    assert.ok((await metricValue(`${host.base}/metrics`, 'switchyard_host_process_starts_total{role="spare"}')) >= 5);
    for (const s of sessions) await s.transport.terminateSession();
    for (const pid of pids) await waitFor(`process ${pid} to end after DELETE`, () => !alive(pid));
    await waitFor(
      "no session left",
      async () => (await metricValue(`${host.base}/metrics`, "switchyard_host_sessions_active")) === 0,
    );
    for (const s of sessions) await s.close();
  });

  it("a session idle past --idle-ttl ends with its process; its next request gets 404", async () => {
    const s = await connect(host.mcp, "idle", undefined, { reconnect: false });
    // No GET stream may keep it busy: the SDK client opens one; close it by ending the client's stream.
    const pid = (await call(s, "whoami")).pid as number;
    await s.transport.close();
    // Ended by host (its exit seen and the session forgotten), not only gone from the process table.
    await waitFor(
      "the idle session's process to end",
      () => processEvents(host, "exited").some((e) => e.child === pid),
      {
        timeoutMs: 20_000,
      },
    );
    const res = await fetch(host.mcp, {
      method: "POST",
      headers: { ...MCP_HEADERS, "mcp-session-id": s.transport.sessionId as string },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    assert.equal(res.status, 404);
  });

  it("the process's environment holds only what was allowed: PATH, its own HOME, nothing of host's secrets", async () => {
    const other = await startHost(["--pool", "0", "--env", "ALLOWED", "--env", "GIVEN=42"], undefined, {
      HOST_SECRET: "s3cret",
      ALLOWED: "yes",
    });
    try {
      const s = await connect(other.mcp);
      const { env } = (await call(s, "env")) as { env: Record<string, string> };
      const { cwd } = (await call(s, "whoami")) as { cwd: string };
      assert.deepEqual(Object.keys(env).sort(), ["ALLOWED", "GIVEN", "HOME", "PATH"]);
      assert.equal(env.ALLOWED, "yes");
      assert.equal(env.GIVEN, "42");
      assert.equal(env.HOME, cwd, "HOME is the process's own directory");
      assert.equal(env.HOST_SECRET, undefined);
      await s.close();
    } finally {
      await other.stop();
    }
  });

  it("progress and a sampling request reach the SDK client on the call's stream, and the answer goes back", async () => {
    const client = new Client({ name: "sampler", version: "1" }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant",
      content: { type: "text", text: "four" },
      model: "test",
    }));
    await client.connect(new StreamableHTTPClientTransport(new URL(host.mcp)));
    try {
      const seen: number[] = [];
      const r = await client.callTool({ name: "progress", arguments: {} }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      assert.deepEqual(seen, [1, 2, 3]);
      assert.deepEqual(r.structuredContent, { done: true });
      const asked = await client.callTool({ name: "ask", arguments: {} });
      assert.deepEqual(asked.structuredContent, { sampled: "four" }, "the client's answer reached the process");
    } finally {
      await client.close();
    }
  });

  it("stderr goes to the log line by line, rate-limited with the dropped lines counted", async () => {
    const s = await connect(host.mcp);
    const { pid } = (await call(s, "whoami")) as { pid: number };
    await call(s, "noisy", { lines: 500 });
    await s.close();
    await waitFor("the dropped lines reported", () =>
      processEvents(host, "stderr").some((e) => e.child === pid && typeof e.dropped === "number"),
    );
    const mine = processEvents(host, "stderr").filter((e) => e.child === pid);
    const logged = mine.filter((e) => String(e.line).startsWith("noise line"));
    const dropped = mine.reduce((n, e) => n + Number(e.dropped ?? 0), 0);
    assert.ok(logged.length >= 10 && logged.length <= 60, `${logged.length} lines logged of 500`);
    assert.equal(logged.length + dropped, 500, "every line logged or counted");
  });
});

describe("switchyard host: a process that dies, and host's own end", () => {
  it("a process killed mid-call: that call gets a JSON-RPC error, the next request 404, a new session works", async () => {
    const host = await startHost(["--pool", "0"]);
    try {
      const s = await connect(host.mcp, "crash", undefined, { reconnect: false });
      await assert.rejects(s.client.callTool({ name: "crash", arguments: {} }), (err: Error & { code?: number }) => {
        assert.equal(err.code, -32603);
        assert.match(err.message, /ended before it answered/);
        return true;
      });
      await assert.rejects(s.client.callTool({ name: "count", arguments: {} }), is404);
      await s.close();
      const again = await connect(host.mcp);
      assert.equal((await call(again, "count")).calls, 1);
      await again.close();
      assert.equal(
        await metricValue(`${host.base}/metrics`, 'switchyard_host_process_exits_total{role="session",how="crashed"}'),
        1,
      );
    } finally {
      await host.stop();
    }
  });

  it("SIGTERM of host leaves no process behind, not even one its child started that ignores SIGTERM", async () => {
    const host = await startHost(["--pool", "1"]);
    const s = await connect(host.mcp);
    const { pid } = (await call(s, "whoami")) as { pid: number };
    const { pid: grandchild } = (await call(s, "grandchild")) as { pid: number };
    assert.ok(alive(grandchild));
    const groups = processEvents(host, "started").map((e) => e.child as number);
    assert.ok(groups.includes(pid));
    assert.equal(await host.stop("SIGTERM"), 0);
    for (const g of groups) assert.deepEqual(groupMembers(g), [], `process group ${g} is empty`);
    assert.equal(alive(grandchild), false);
    await s.close().catch(() => {});
  });

  it("kill -9 of host: its children die with it, and a restart on the same state directory ends what they left", async () => {
    const host = await startHost(["--pool", "0", "--no-spare"]);
    const s = await connect(host.mcp);
    const { pid } = (await call(s, "whoami")) as { pid: number };
    const { pid: grandchild } = (await call(s, "grandchild")) as { pid: number };
    await host.stop("SIGKILL");
    await waitFor("the child to die with host (parent-death signal)", () => !alive(pid));
    assert.ok(alive(grandchild), "the grandchild (in the child's group) outlived host's crash");
    const again = await startHost(["--pool", "0", "--no-spare", "--state-dir", host.stateDir]);
    try {
      await waitFor("the restart to end the orphan", () => !alive(grandchild));
    } finally {
      await again.stop();
      await s.close().catch(() => {});
    }
  });

  it("limits: memory past --max-memory and CPU past --max-cpu-seconds end the process; --user runs it as that user", async () => {
    const host = await startHost([
      "--pool",
      "0",
      "--max-memory",
      "256MiB",
      "--max-cpu-seconds",
      "1",
      "--user",
      "nobody",
    ]);
    try {
      const s = await connect(host.mcp, "limits", undefined, { reconnect: false });
      const who = (await call(s, "whoami")) as { uid: number; gid: number };
      assert.deepEqual([who.uid, who.gid], [65534, 65534], "run as nobody");
      assert.equal((await call(s, "hog", { mib: 64 })).kept, 64, "within the limit");
      await assert.rejects(s.client.callTool({ name: "hog", arguments: { mib: 400 } }), /ended before it answered/);
      const t = await connect(host.mcp, "cpu", undefined, { reconnect: false });
      await assert.rejects(t.client.callTool({ name: "spin", arguments: { ms: 5000 } }), /ended before it answered/);
      await s.close();
      await t.close();
    } finally {
      await host.stop();
    }
  });

  it("--start-timeout: a program that does not answer initialize in time is ended (504); host is not ready without its pool", async () => {
    const host = await startHost(["--pool", "1", "--start-timeout", "500ms"], ["sleep", "600"]);
    try {
      const res = await fetch(host.mcp, {
        method: "POST",
        headers: MCP_HEADERS,
        body: JSON.stringify(INIT_BODY),
      });
      assert.equal(res.status, 504);
      assert.equal(((await res.json()) as Answer).error.data.code, "SWY_HOST_START_TIMEOUT");
      assert.equal((await fetch(`${host.base}/readyz`)).status, 503);
      await waitFor(
        "a session process ended",
        async () =>
          (await metricValue(
            `${host.base}/metrics`,
            'switchyard_host_process_exits_total{role="session",how="ended"}',
          )) >= 1,
      );
    } finally {
      await host.stop();
    }
  });

  it("--max-processes: past it a new session gets 503 with Retry-After; a place freed serves again", async () => {
    const host = await startHost(["--pool", "0", "--no-spare", "--max-processes", "2"]);
    try {
      const a = await connect(host.mcp);
      const b = await connect(host.mcp);
      await assert.rejects(connect(host.mcp), /503|Busy/);
      const res = await fetch(host.mcp, {
        method: "POST",
        headers: MCP_HEADERS,
        body: JSON.stringify(INIT_BODY),
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal(((await res.json()) as { error: { data: { code: string } } }).error.data.code, "SWY_HOST_BUSY");
      await a.transport.terminateSession();
      await a.close();
      const c = await connect(host.mcp);
      assert.equal((await call(c, "count")).calls, 1);
      await b.close();
      await c.close();
    } finally {
      await host.stop();
    }
  });
});

describe("switchyard host: the modern era through a pool, and HTTP+SSE", () => {
  let host: HostProc;
  before(async () => {
    host = await startHost(["--pool", "3", "--max-processes", "6"]);
    // Ready with one process warm; the tests below need all three.
    await waitFor("the pool's three processes ready", async () => {
      const ready = (await (await fetch(`${host.base}/readyz`)).json()) as { pool: { ready: number } };
      return ready.pool.ready === 3;
    });
  });
  after(async () => {
    await host?.stop();
  });

  it("concurrent modern calls, one request at a time per process: each gets its own answer under its own id", async () => {
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, n) => modernCall(host.mcp, "slow", { n, ms: 20 }, `req-${n}`)),
    );
    const pids = new Set<number>();
    results.forEach(({ status, body }, n) => {
      assert.equal(status, 200);
      assert.equal(body.id, `req-${n}`);
      assert.equal(body.result.structuredContent.n, n);
      assert.equal(body.result.resultType, "complete");
      pids.add(body.result.structuredContent.pid);
    });
    assert.equal(pids.size, 3, "the three pooled processes served them");
  });

  it("server/discover answered from the program's initialize; a pooled process that crashes is replaced", async () => {
    const res = await fetch(host.mcp, {
      method: "POST",
      headers: modernHeaders("server/discover"),
      body: modernBody("server/discover"),
    });
    const body = (await res.json()) as Answer;
    assert.deepEqual(body.result.supportedVersions, ["2026-07-28"]);
    assert.equal(body.result._meta["io.modelcontextprotocol/serverInfo"].name, "stdio-fixture");
    const crashed = await modernCall(host.mcp, "crash", {}, "c");
    assert.equal(crashed.body.error.data.code, "SWY_HOST_PROCESS_ENDED");
    await waitFor(
      "the pool to be whole again",
      async () => (await metricValue(`${host.base}/metrics`, 'switchyard_host_processes{role="pool"}')) === 3,
    );
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, n) => modernCall(host.mcp, "slow", { n, ms: 10 }, n)),
    );
    for (const [n, r] of after.entries()) assert.equal(r.body.result.structuredContent.n, n);
  });

  it("HTTP+SSE: an SDK client's session runs its own process, which ends when the client leaves", async () => {
    const client = new Client({ name: "sse-client", version: "1" });
    await client.connect(new SSEClientTransport(new URL(`${host.base}/sse`)));
    const first = (await client.callTool({ name: "count", arguments: {} })).structuredContent as Tool;
    const second = (await client.callTool({ name: "count", arguments: {} })).structuredContent as Tool;
    assert.deepEqual([first.calls, second.calls], [1, 2]);
    const { pid } = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent as { pid: number };
    await client.close();
    await waitFor("the SSE session's process to end", () => !alive(pid));
  });
});

describe("switchyard host behind the gateway", () => {
  it("two host replicas of one route: every session's requests reach the process that holds it (round-robin balancing)", async () => {
    const hosts = [await startHost(["--pool", "0"]), await startHost(["--pool", "0"])];
    const gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
upstreams:
  stdio:
    replicas: [${hosts.map((h) => h.mcp).join(", ")}]
    balancer: round-robin
`),
    ]);
    try {
      const sessions = await Promise.all(Array.from({ length: 4 }, () => connect(gateway.route("stdio"))));
      const pids = await Promise.all(sessions.map(async (s) => (await call(s, "whoami")).pid as number));
      for (let round = 1; round <= 3; round++) {
        for (const [i, s] of sessions.entries()) {
          assert.equal((await call(s, "count")).calls, round, "the session's own process, its own count");
          assert.equal((await call(s, "whoami")).pid, pids[i]);
        }
      }
      // Both hosts serve sessions: the balancer spread them, affinity kept each on its own.
      const perHost = await Promise.all(
        hosts.map((h) => metricValue(`${h.base}/metrics`, "switchyard_host_sessions_active")),
      );
      assert.deepEqual(perHost, [2, 2]);
      for (const s of sessions) await s.close();
    } finally {
      await gateway.stop();
      for (const h of hosts) await h.stop();
    }
  });

  it("upstreams.NAME.command: the gateway runs its own host for the route, sessions isolated, and ends it on stop", async () => {
    const gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: info
upstreams:
  counter:
    command: ${process.execPath}
    args: [${STDIO_FIXTURE}]
    env: [GIVEN=1]
    host: { pool: 1, maxProcesses: 4 }
`),
    ]);
    let pids: number[] = [];
    try {
      const a = await connect(gateway.route("counter"));
      const b = await connect(gateway.route("counter"));
      assert.equal((await call(a, "count")).calls, 1);
      assert.equal((await call(a, "count")).calls, 2);
      assert.equal((await call(b, "count")).calls, 1);
      const env = ((await call(a, "env")) as { env: Record<string, string> }).env;
      assert.equal(env.GIVEN, "1");
      pids = [(await call(a, "whoami")).pid as number, (await call(b, "whoami")).pid as number];
      // The modern era through the same route: the host's pool.
      const modern = await modernCall(gateway.route("counter"), "slow", { n: 7 }, "m");
      assert.equal(modern.body.result.structuredContent.n, 7);
      // The host's log lines reach the gateway's log, tagged with the route.
      await waitFor("a host line in the gateway's log", () =>
        gateway.lines.some((l) => l.includes('"host":"counter"')),
      );
      await a.close();
      await b.close();
    } finally {
      assert.equal(await gateway.stop(), 0);
    }
    for (const pid of pids) await waitFor(`process ${pid} ended with the gateway`, () => !alive(pid));
  });
});
