/**
 * The proxy configurations in deploy/, run for real with only their ports, addresses and file paths
 * substituted (deploy/README.md lists the placeholders): nginx, Caddy and HAProxy in front of two
 * Switchyard gateways that share a redis-server, with TLS; and, with no gateway, HAProxy's stick
 * table and nginx's session-id map in front of two stateful MCP server replicas.
 * SWY_DEBUG_PROXY=1 prints what each proxy wrote (its log) when its suite ends.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Agent } from "undici";
import { fetch as undiciFetch } from "undici";
import { check, SOUND_DEPLOYMENT } from "../helpers/check.js";
import { INIT_BODY, is404, MCP_HEADERS } from "../helpers/mcp.js";
import {
  freePort,
  type GatewayProc,
  type Managed,
  owned,
  type Replica,
  startGateway,
  startOnFreePort,
  startPrefixed,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import {
  deployFile,
  fetchVia,
  makeTlsCert,
  type RunningProxy,
  type Substitutions,
  startCaddy,
  startHaproxy,
  startNginx,
  type TlsFiles,
  trustingAgent,
} from "../helpers/proxies.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { metricValue, waitFor } from "../helpers/wait.js";

/** Each call's own limit: a proxy that holds an answer back fails the test in seconds, not in a minute. */
const CALL = { timeout: 10_000 };

/** An SDK v1 client session over TLS through `agent` (which trusts the test CA), sending `headers` too. */
async function session(url: string, agent: Agent, headers: Record<string, string> = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: fetchVia(agent),
    requestInit: { headers },
    reconnectionOptions: {
      initialReconnectionDelay: 100,
      maxReconnectionDelay: 500,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 5,
    },
  });
  const client = new Client({ name: "deploy-test", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    transport,
    get id() {
      return transport.sessionId as string;
    },
    async whoami() {
      const r = await client.callTool({ name: "whoami", arguments: {} }, undefined, CALL);
      return r.structuredContent as { replica: string; sessionCalls: number };
    },
    close: () => client.close().catch(() => {}),
  };
}
type Session = Awaited<ReturnType<typeof session>>;

/** `calls` whoami calls in each session, the sessions concurrently: each stays on its replica, counting up. */
async function assertSessionsStay(sessions: Session[], calls: number): Promise<string[]> {
  const owners: string[] = [];
  for (let n = 1; n <= calls; n++) {
    const answers = await Promise.all(sessions.map((s) => s.whoami()));
    answers.forEach((a, i) => {
      if (n === 1) owners[i] = a.replica;
      assert.equal(a.replica, owners[i], `call ${n} of session ${i} left its replica`);
      assert.equal(a.sessionCalls, n, `session ${i} lost its state`);
    });
  }
  return owners;
}

/** The gateways' `admin.token` (their admin API answers on their operations listener only). */
const ADMIN_TOKEN = "deploy-test-admin-token-0123456789";

/** POST requests a gateway answered on route `svc`, from the /metrics of its operations listener. */
async function postsServed(gateway: GatewayProc): Promise<number> {
  const res = await fetch(`${gateway.ops}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("switchyard_requests_total{") && l.includes('route="svc"'))
    .filter((l) => l.includes('method="POST"'))
    .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
}

/** GET requests a gateway answered 503 outside any route: its /readyz saying "unready". */
async function readyz503(gateway: GatewayProc): Promise<number> {
  return metricValue(`${gateway.ops}/metrics`, 'switchyard_requests_total{route="",method="GET",status="503"}');
}

/** POST requests the gateways answered on route `svc`, all together. */
async function postsServedByAll(gateways: GatewayProc[]): Promise<number> {
  return (await Promise.all(gateways.map(postsServed))).reduce((a, b) => a + b, 0);
}

/**
 * Until the gateways have counted `atLeast` POSTs on route `svc` (a request is counted when its
 * response has closed, a moment after the client has its answer): what the gateways say they served.
 */
async function untilServed(gateways: GatewayProc[], atLeast: number, what: string): Promise<void> {
  let seen = 0;
  await waitFor(
    `the gateways to count ${what} (${atLeast} POSTs)`,
    async () => {
      seen = await postsServedByAll(gateways);
      return seen >= atLeast;
    },
    { timeoutMs: 10_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; counted ${seen}`);
  });
}

/** A raw POST through the proxy: status, headers and the body as text. */
async function post(agent: Agent, url: string, headers: Record<string, string>, body: string) {
  const res = await undiciFetch(url, { method: "POST", headers, body, dispatcher: agent });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const hostOf = (url: string) => new URL(url).host;

/** The protocol a TLS client offering h2 and http/1.1 gets from 127.0.0.1:`port` (ALPN). */
function alpn(port: number, ca: string): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, ca: readFileSync(ca), ALPNProtocols: ["h2", "http/1.1"] },
      () => {
        resolve(socket.alpnProtocol ?? false);
        socket.end();
      },
    );
    socket.on("error", reject);
  });
}

/** What a test of a gateway configuration can reach (kept for `switchyard check` runs too). */
interface GatewayDeployment {
  redis: RedisServer;
  /** Two example server replicas, route `svc` of both gateways. */
  replicas: Replica[];
  /**
   * Route `spare` of the second gateway only, one of its `health.readyRoutes`: stopping it makes that
   * gateway unready (/readyz 503).
   */
  spare: Replica;
  /** Where `spare` listens (it comes back there: the second gateway's configuration names it). */
  spareListen: string;
  gateways: GatewayProc[];
  /** The port of both gateways' operations listeners (each on its own address). */
  opsPort: number;
  tls: TlsFiles;
  /** Trusts `tls.ca`. */
  agent: Agent;
  proxy: RunningProxy;
  /** The MCP URL of route `svc` through the proxy. */
  url: string;
}

/** The proxy before the gateways (it picks its own port: `RunningProxy.port`). */
type StartProxy = (gateways: GatewayProc[], opsPort: number, tls: TlsFiles) => Promise<RunningProxy>;

interface ProxyTraits {
  /** It polls /readyz itself (nginx OSS cannot). */
  activeHealth: boolean;
  /** It sends a POST whose first replica refused the connection on to another one. */
  retriesPosts: boolean;
}

/**
 * One suite per gateway configuration. Everything a further check needs is in `d` once `before` has run:
 * `d.url` (the MCP URL through the proxy), `d.tls.ca` (the CA its certificate chains to), the gateways.
 */
function describeGatewayConfig(title: string, startProxy: StartProxy, options: ProxyTraits): void {
  describe(title, () => {
    const d = {} as GatewayDeployment;
    const procs = owned();

    before(async () => {
      // Redis and the replicas at once (the gateways need them all).
      const [redis, spare, ...replicas] = await Promise.all([
        procs.own(startRedis()),
        ...["spare", "r1", "r2"].map((n) => procs.own(startReplica(n))),
      ]);
      d.redis = redis as RedisServer;
      d.spare = spare as Replica;
      d.spareListen = hostOf(d.spare.url);
      d.replicas = replicas as Replica[];
      const common = (host: string, opsPort: number, readyRoutes: string[] = []) => `logLevel: warn
ops:
  listen: ${host}:${opsPort}
admin:
  token: ${ADMIN_TOKEN}
  allowHttpServers: true
diagnostics:
  enabled: true
security:
  trustProxy: true
store:
  url: ${d.redis.url}
health:
  interval: 300ms
  unhealthyThreshold: 1
  readyRoutes: [${readyRoutes.join(", ")}]
upstreams:
  svc:
    replicas: [${d.replicas.map((r) => r.url).join(", ")}]
    balancer: round-robin
`;
      // Each on its own loopback address, both with their operations listener on one port (Caddy's
      // health_port is one port for every upstream).
      d.gateways = await startOnFreePort((opsPort) =>
        Promise.all([
          procs.own(startGateway(["--listen", "127.0.0.2:0", "--config", writeConfig(common("127.0.0.2", opsPort))])),
          procs.own(
            startGateway([
              "--listen",
              "127.0.0.3:0",
              "--config",
              writeConfig(`${common("127.0.0.3", opsPort, ["spare"])}  spare:\n    replicas: [${d.spare.url}]\n`),
            ]),
          ),
        ]),
      );
      d.opsPort = Number(new URL(d.gateways[0]?.ops as string).port);
      d.tls = makeTlsCert();
      d.agent = trustingAgent(d.tls.ca);
      d.proxy = await procs.own(startProxy(d.gateways, d.opsPort, d.tls));
      d.url = `${d.proxy.base}/svc/mcp`;
    });
    after(async () => {
      if (process.env.SWY_DEBUG_PROXY) console.log(d.proxy?.output());
      await procs.stopAll();
      await d.agent?.close();
    });

    it("keeps each session on its replica while its calls land on both gateways", async () => {
      const before = await Promise.all(d.gateways.map(postsServed));
      const sessions = await Promise.all([1, 2, 3, 4].map(() => session(d.url, d.agent)));
      try {
        const owners = await assertSessionsStay(sessions, 12);
        assert.equal(new Set(owners).size, 2, "sessions spread over both replicas");
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
      }
      // Each session: initialize, notifications/initialized and 12 calls.
      const posts = 4 * (2 + 12);
      await untilServed(d.gateways, before.reduce((a, b) => a + b) + posts, `the sessions' ${posts} POSTs`);
      const served = (await Promise.all(d.gateways.map(postsServed))).map((n, i) => n - (before[i] as number));
      for (const [i, n] of served.entries()) {
        assert.ok(n >= 5, `gateway ${i + 1} answered ${n} of the ~60 POSTs: the proxy did not spread them`);
      }
    });

    it("passes `switchyard check` through it: sessions on new connections, TLS, streams, headers, discovery", async () => {
      const r = await check([d.url, "--ca", d.tls.ca, "--idle", "3", "--repeat", "12"]);
      assert.equal(r.code, 0, r.problems());
      for (const id of SOUND_DEPLOYMENT) assert.equal(r.status(id), "pass", `${id}: ${r.title(id)}`);
    });

    it("passes Authorization in and WWW-Authenticate back (a tenant's API key)", async () => {
      // A tenant, its key and its server, made on the first gateway's admin API (operations listener).
      const admin = async (path: string, body: unknown) => {
        const res = await fetch(`${d.gateways[0]?.ops}/admin/v1${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 201, await res.clone().text());
        return (await res.json()) as { key?: string };
      };
      await admin("/tenants", { id: "acme", allow: ["127.0.0.1/32"] });
      const { key } = await admin("/tenants/acme/keys", {});
      await admin("/tenants/acme/servers", { name: "s1", url: d.replicas[0]?.url });
      const url = `${d.proxy.base}/acme/s1/mcp`;
      const refused = await undiciFetch(url, {
        method: "POST",
        dispatcher: d.agent,
        headers: MCP_HEADERS,
        body: JSON.stringify(INIT_BODY),
      });
      await refused.body?.cancel();
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer /);
      // With the key, a session and its call, through whichever gateway the proxy picks (a gateway that did
      // not make the key finds it in the shared Redis).
      const s = await session(url, d.agent, { authorization: `Bearer ${key}` });
      try {
        assert.equal((await s.whoami()).replica, "r1");
      } finally {
        await s.close();
      }
    });

    it("keeps operations off the proxied side: metrics and the admin API are 404 there, served on the operations port", async () => {
      for (const path of ["/metrics", "/admin/v1/tenants"]) {
        const res = await undiciFetch(`${d.proxy.base}${path}`, {
          dispatcher: d.agent,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        await res.body?.cancel();
        assert.equal(res.status, 404, path);
      }
      for (const g of d.gateways) {
        assert.equal(hostOf(g.ops as string), `${new URL(g.base).hostname}:${d.opsPort}`);
        assert.match(await (await fetch(`${g.ops}/metrics`)).text(), /switchyard_requests_total/);
      }
    });

    for (const h2 of [false, true]) {
      it(`passes each SSE event on as it is written (progress arrives step by step)${h2 ? ", over HTTP/2" : ""}`, async () => {
        const agent = h2 ? trustingAgent(d.tls.ca, { h2 }) : d.agent;
        if (h2) assert.equal(await alpn(d.proxy.port, d.tls.ca), "h2", "the proxy offers HTTP/2");
        const s = await session(d.url, agent);
        try {
          // The replica sends an event every `delayMs` (each `delayMs` after the last was written: never
          // closer together, however slow the machine), the answer right after the last. A proxy that
          // buffers passes them on together, at the end or when its buffer fills.
          const steps = 4;
          const delayMs = 500;
          const arrivals: number[] = [];
          const started = performance.now();
          const result = await s.client.callTool({ name: "countdown", arguments: { steps, delayMs } }, undefined, {
            ...CALL,
            onprogress: () => arrivals.push(performance.now()),
          });
          const answered = performance.now();
          assert.match(JSON.stringify(result.content), /done on r\d/);
          assert.equal(arrivals.length, steps);
          const at = (t: number) => Math.round(t - started);
          const timeline = `events at ${arrivals.map(at).join(", ")} ms, answer at ${at(answered)} ms`;
          // Each event on its own: a gap of less than 40% of the spacing would take this process stalling
          // for 300 ms exactly across an event.
          const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
          assert.ok(
            gaps.every((g) => g > delayMs * 0.4),
            `progress arrived in bursts, not as sent (${timeline})`,
          );
          // The first event long before the answer (the replica wrote them (steps - 1) * delayMs apart),
          // and sooner after the call than the rest of the call took: the proxy held nothing back at the start.
          const first = arrivals[0] as number;
          assert.ok(answered - first > delayMs * (steps - 1) * 0.6, `the first event came late (${timeline})`);
          assert.ok(first - started < answered - first, `the first event was held back (${timeline})`);
        } finally {
          await s.close();
          if (h2) await agent.close();
        }
      });
    }

    it("resumes a stream the server closed, with Last-Event-ID, through the proxy", async () => {
      const s = await session(d.url, d.agent);
      try {
        const result = await s.client.callTool({ name: "test_reconnection", arguments: {} }, undefined, CALL);
        assert.match(JSON.stringify(result.content), /resumed on r\d/);
      } finally {
        await s.close();
      }
    });

    it("ends the request at the gateway when the client goes away from a quiet stream (cancellation)", async () => {
      const servedBefore = await postsServedByAll(d.gateways);
      const s = await session(d.url, d.agent);
      const abort = new AbortController();
      try {
        const headers = { ...MCP_HEADERS, "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" };
        // Its first event comes in 30 s: until then nothing flows that would show a proxy the client is gone.
        const call = JSON.stringify({
          jsonrpc: "2.0",
          id: 11,
          method: "tools/call",
          params: { name: "countdown", arguments: { steps: 1, delayMs: 30_000 }, _meta: { progressToken: "c" } },
        });
        // The session's initialize and notifications/initialized, counted: from here on only the call counts.
        await untilServed(d.gateways, servedBefore + 2, "the session's initialize and notifications/initialized");
        const closedBefore = await postsServedByAll(d.gateways);
        const res = await undiciFetch(d.url, {
          method: "POST",
          headers,
          body: call,
          dispatcher: d.agent,
          signal: abort.signal,
        });
        assert.equal(res.headers.get("content-type"), "text/event-stream");
        abort.abort(); // the client goes away: closing the stream is how it cancels
        // The gateway ends (and counts) the request once the proxy closes its side: long before the
        // replica's first event (30 s) would show a proxy that kept it open that the client is gone.
        await untilServed(d.gateways, closedBefore + 1, "the abandoned call ended (the proxy kept it open?)");
        const closedAfter = await postsServedByAll(d.gateways);
        assert.equal(closedAfter - closedBefore, 1, "only the abandoned call ended");
      } finally {
        abort.abort();
        await s.close();
      }
    });

    it("passes a 3 MiB request; above the gateway's 4 MiB the answer is 413 with a JSON-RPC error", async () => {
      const s = await session(d.url, d.agent);
      try {
        const text = "x".repeat(3 * 1024 * 1024);
        const echoed = await s.client.callTool({ name: "echo", arguments: { text } }, undefined, CALL);
        assert.equal((echoed.content as Array<{ text: string }>)[0]?.text.length, text.length);
        const headers = { ...MCP_HEADERS, "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" };
        const big = JSON.stringify({
          jsonrpc: "2.0",
          id: 7,
          method: "tools/call",
          params: { name: "echo", arguments: { text: "y".repeat(5 * 1024 * 1024) } },
        });
        const refused = await post(d.agent, d.url, headers, big);
        assert.equal(refused.status, 413);
        assert.equal((JSON.parse(refused.text) as { error: { code: number } }).error.code, -32600);
      } finally {
        await s.close();
      }
    });

    if (options.activeHealth) {
      it("checks /readyz: an unready gateway gets no requests until it is ready again", async () => {
        const [g1, g2] = d.gateways as [GatewayProc, GatewayProc];
        const s = await session(d.url, d.agent);
        try {
          await d.spare.stop(); // g2's route `spare` has no replica left: its /readyz says 503
          await waitFor("g2 to notice its route has no replica (/readyz 503)", async () => {
            const res = await fetch(`${g2.base}/readyz`);
            await res.body?.cancel();
            return res.status === 503;
          });
          // The proxy's own checks must have seen the 503 (HAProxy takes a replica out after two, Caddy
          // after one): g2 counts each /readyz it answers 503, under the route "". A batch with no call
          // on g2 proves nothing by itself (least_conn sends every call to an idle g1).
          const unready = () => readyz503(g2);
          const seenByTest = await unready();
          await waitFor(
            "the proxy's health checks to see g2's 503 twice",
            async () => (await unready()) >= seenByTest + 2,
            {
              timeoutMs: 20_000,
            },
          );
          // Within the proxy's check interval, g2 stops getting requests (it still serves them fine).
          await untilBatch(
            s,
            d.gateways,
            g2,
            (n) => n === 0,
            15_000,
            "kept sending requests to a gateway whose /readyz is 503",
          );
          const g1Before = await postsServed(g1);
          const g2Before = await postsServed(g2);
          for (let i = 0; i < 10; i++) await s.whoami();
          await untilServed(d.gateways, g1Before + g2Before + 10, "the 10 calls");
          assert.equal((await postsServed(g2)) - g2Before, 0, "an unready gateway got requests");
          assert.ok((await postsServed(g1)) - g1Before >= 10);
          // Ready again (at the address g2's configuration names): the proxy brings it back.
          d.spare = await procs.own(startReplica("spare", d.spareListen));
          await untilBatch(
            s,
            d.gateways,
            g2,
            (n) => n > 0,
            15_000,
            "never sent requests to the gateway once it was ready again",
          );
        } finally {
          await s.close();
        }
      });
    }

    it("keeps serving when a gateway stops (its sessions continue on the other one)", async () => {
      const [g1, g2] = d.gateways as [GatewayProc, GatewayProc];
      const sessions = await Promise.all([1, 2, 3].map(() => session(d.url, d.agent)));
      try {
        const first = await Promise.all(sessions.map((s) => s.whoami()));
        const calls = first.map((a) => a.sessionCalls);
        await g1.stop();
        const g2Before = await postsServed(g2);
        let answered = 0;
        for (let round = 1; round <= 10; round++) {
          const results = await Promise.allSettled(sessions.map((s) => s.whoami()));
          results.forEach((r, i) => {
            if (r.status === "rejected") {
              // Caddy cannot send a POST on to another replica once its first attempt failed: the
              // requests it had already picked the stopped gateway for fail (caddyserver/caddy#5454).
              assert.ok(
                !options.retriesPosts && round === 1 && (r.reason as { code?: number }).code === 502,
                `round ${round}: ${r.reason}`,
              );
              return;
            }
            answered++;
            calls[i] = (calls[i] as number) + 1;
            assert.equal(r.value.replica, first[i]?.replica, "a session left its replica");
            assert.equal(r.value.sessionCalls, calls[i], "a session lost its state");
          });
        }
        const fresh = await session(d.url, d.agent);
        assert.equal((await fresh.whoami()).sessionCalls, 1);
        await fresh.close();
        assert.ok(answered >= 27, `only ${answered} of 30 calls succeeded`);
        // The answered calls and the fresh session's 3 POSTs, counted by the gateway still running.
        await untilServed([g2], g2Before + answered + 3, "the calls answered, on the remaining gateway");
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
      }
    });
  });
}

/**
 * Batches of 6 concurrent calls (concurrent, so that a least-connections proxy has a choice to make)
 * until one batch moves `gateway`'s POST count as `accept` wants. A batch is judged once `all` the
 * gateways have counted its 6 POSTs.
 */
async function untilBatch(
  s: Session,
  all: GatewayProc[],
  gateway: GatewayProc,
  accept: (delta: number) => boolean,
  timeoutMs: number,
  failure: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const before = await postsServed(gateway);
    const allBefore = await postsServedByAll(all);
    await Promise.all([1, 2, 3, 4, 5, 6].map(() => s.whoami()));
    await untilServed(all, allBefore + 6, "a batch of 6 calls");
    if (accept((await postsServed(gateway)) - before)) return;
  }
  assert.fail(`the proxy ${failure} (waited ${timeoutMs} ms)`);
}

/** The substitutions every gateway configuration shares: its two replicas and its certificate files. */
function gatewayAddresses(gateways: GatewayProc[]): Substitutions {
  return {
    "10.0.0.11:8080": hostOf(gateways[0]?.base as string),
    "10.0.0.12:8080": hostOf(gateways[1]?.base as string),
  };
}

describeGatewayConfig(
  "deploy/nginx/switchyard.conf: nginx, TLS, two gateways sharing Redis",
  (gateways, _opsPort, tls) =>
    startNginx(
      deployFile("nginx/switchyard.conf"),
      (port) => ({
        ...gatewayAddresses(gateways),
        "0.0.0.0:443": `127.0.0.1:${port}`,
        "/etc/ssl/switchyard/fullchain.pem": tls.cert,
        "/etc/ssl/switchyard/privkey.pem": tls.key,
      }),
      { ca: tls.ca },
    ),
  { activeHealth: false, retriesPosts: true },
);

describeGatewayConfig(
  "deploy/caddy/Caddyfile: Caddy, TLS, two gateways sharing Redis",
  (gateways, opsPort, tls) =>
    startCaddy(
      deployFile("caddy/Caddyfile"),
      // Its admin endpoint and HTTP port too: new ones on each attempt.
      async (port) => ({
        ...gatewayAddresses(gateways),
        "mcp.example.com": `127.0.0.1:${port}`,
        "health_port 9090": `health_port ${opsPort}`,
        "localhost:2019": `127.0.0.1:${await freePort()}`,
        "http_port 80": `http_port ${await freePort()}`,
        "/etc/ssl/switchyard/fullchain.pem": tls.cert,
        "/etc/ssl/switchyard/privkey.pem": tls.key,
      }),
      { ca: tls.ca },
    ),
  { activeHealth: true, retriesPosts: false },
);

describeGatewayConfig(
  "deploy/haproxy/haproxy.cfg: HAProxy, TLS, two gateways sharing Redis",
  (gateways, opsPort, tls) =>
    startHaproxy(
      deployFile("haproxy/haproxy.cfg"),
      (port) => ({
        ...gatewayAddresses(gateways),
        "0.0.0.0:443": `127.0.0.1:${port}`,
        "/etc/haproxy/certs/switchyard.pem": tls.pem,
        "check port 9090": `check port ${opsPort}`,
      }),
      { ca: tls.ca },
    ),
  { activeHealth: true, retriesPosts: true },
);

/** What a test of a no-gateway configuration can reach. */
interface DirectDeployment {
  replicas: Managed[] & Array<{ url: string }>;
  tls: TlsFiles;
  agent: Agent;
  proxy: RunningProxy;
  /** The MCP URL through the proxy. */
  url: string;
}

/**
 * A no-gateway suite's setup: two replicas from `start` behind the proxy from `proxy` (TLS with a test
 * CA), stopped afterwards; and `switchyard check` through it.
 */
function withDirectDeployment(
  d: DirectDeployment,
  start: (name: string) => Promise<Managed & { url: string }>,
  proxy: () => Promise<RunningProxy>,
): void {
  const procs = owned();
  before(async () => {
    d.replicas = await Promise.all(["r1", "r2"].map((n) => procs.own(start(n))));
    d.tls = makeTlsCert();
    d.agent = trustingAgent(d.tls.ca);
    d.proxy = await procs.own(proxy());
    d.url = `${d.proxy.base}/mcp`;
  });
  after(async () => {
    if (process.env.SWY_DEBUG_PROXY) console.log(d.proxy?.output());
    await procs.stopAll();
    await d.agent?.close();
  });

  it("passes `switchyard check` (affinity on new connections, 404 for unknown sessions; no gateway: no diagnostics)", async () => {
    const r = await check([d.url, "--ca", d.tls.ca, "--repeat", "12"]);
    assert.equal(r.code, 0, r.problems());
    for (const id of ["tls", "session.id", "session.affinity", "session.unknown", "session.delete"]) {
      assert.equal(r.status(id), "pass", `${id}: ${r.title(id)}`);
    }
    assert.equal(r.status("stream.buffering"), "skip");
  });
}

/** Where a `whoami` answer was served and how many calls its session made (not the session's hash). */
const placed = ({ replica, sessionCalls }: { replica: string; sessionCalls: number }) => ({ replica, sessionCalls });

/** Last in a no-gateway suite (it kills replica r1): its sessions get 404 with a JSON-RPC error, the rest go on. */
function itLosesOnlyTheDeadReplicasSessions(d: DirectDeployment): void {
  it("a dead replica's sessions get 404 with a JSON-RPC error; the others and new sessions carry on", async () => {
    const sessions = await Promise.all([1, 2, 3, 4].map(() => session(d.url, d.agent)));
    try {
      const owners = (await Promise.all(sessions.map((s) => s.whoami()))).map((a) => a.replica);
      assert.equal(new Set(owners).size, 2);
      d.replicas[0]?.child.kill("SIGKILL");
      await d.replicas[0]?.exited;
      for (const [i, s] of sessions.entries()) {
        if (owners[i] === "r1") {
          const headers = { ...MCP_HEADERS, "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" };
          const gone = await post(d.agent, d.url, headers, JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping" }));
          assert.equal(gone.status, 404);
          assert.equal(gone.headers.get("content-type"), "application/json");
          assert.equal((JSON.parse(gone.text) as { error: { code: number } }).error.code, -32001);
          await assert.rejects(s.whoami(), is404);
        } else {
          assert.deepEqual(placed(await s.whoami()), { replica: "r2", sessionCalls: 2 });
        }
      }
      for (let i = 0; i < 3; i++) {
        const fresh = await session(d.url, d.agent);
        assert.deepEqual(placed(await fresh.whoami()), { replica: "r2", sessionCalls: 1 });
        await fresh.close();
      }
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
  });
}

describe("deploy/no-gateway/haproxy.cfg: a stick table learned from Mcp-Session-Id", () => {
  const d = {} as DirectDeployment;

  withDirectDeployment(
    d,
    (n) => startReplica(n),
    () =>
      startHaproxy(
        deployFile("no-gateway/haproxy.cfg"),
        (port) => ({
          "10.0.0.21:3000": hostOf(d.replicas[0]?.url as string),
          "10.0.0.22:3000": hostOf(d.replicas[1]?.url as string),
          "0.0.0.0:443": `127.0.0.1:${port}`,
          "/etc/haproxy/certs/mcp.pem": d.tls.pem,
        }),
        { ca: d.tls.ca },
      ),
  );

  it("keeps every session on the replica that created it, across 20 calls", async () => {
    const sessions = await Promise.all([1, 2, 3, 4].map(() => session(d.url, d.agent)));
    try {
      const owners = await assertSessionsStay(sessions, 20);
      assert.equal(new Set(owners).size, 2, "initialize is balanced over both replicas");
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
  });

  itLosesOnlyTheDeadReplicasSessions(d);
});

describe("deploy/no-gateway/nginx.conf: session ids that name their replica, mapped to it", () => {
  const d = {} as DirectDeployment;

  withDirectDeployment(
    d,
    (n) => startPrefixed(n),
    () =>
      startNginx(
        deployFile("no-gateway/nginx.conf"),
        (port) => ({
          "10.0.0.21:3000": hostOf(d.replicas[0]?.url as string),
          "10.0.0.22:3000": hostOf(d.replicas[1]?.url as string),
          "0.0.0.0:443": `127.0.0.1:${port}`,
          "/etc/ssl/mcp/fullchain.pem": d.tls.cert,
          "/etc/ssl/mcp/privkey.pem": d.tls.key,
        }),
        { ca: d.tls.ca },
      ),
  );

  it("keeps every session on the replica its id names, across 20 calls", async () => {
    const sessions = await Promise.all([1, 2, 3, 4].map(() => session(d.url, d.agent)));
    try {
      const owners = await assertSessionsStay(sessions, 20);
      assert.equal(new Set(owners).size, 2, "initialize is balanced over both replicas");
      for (const [i, s] of sessions.entries()) assert.ok(s.id.startsWith(`${owners[i]}.`), s.id);
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
  });

  itLosesOnlyTheDeadReplicasSessions(d);
});

describe("switchyard check through a broken nginx: it fails, naming the cause", () => {
  let replica: Replica;
  let gateway: GatewayProc;
  let tls: TlsFiles;
  const procs = owned();

  before(async () => {
    replica = await procs.own(startReplica("r1"));
    gateway = await procs.own(
      startGateway([
        "--config",
        writeConfig(
          `logLevel: warn\ndiagnostics:\n  enabled: true\nupstreams:\n  svc:\n    replicas: [${replica.url}]\n`,
        ),
      ]),
    );
    tls = makeTlsCert();
  });
  after(() => procs.stopAll());

  /** deploy/nginx/switchyard.conf with one mistake made in it, in front of the gateway. */
  async function broken(from: string, to: string): Promise<string> {
    const text = readFileSync(deployFile("nginx/switchyard.conf"), "utf8");
    assert.ok(text.includes(from), `the deploy file no longer contains ${from}`);
    const file = join(mkdtempSync(join(tmpdir(), "swy-broken-")), "switchyard.conf");
    writeFileSync(file, text.replace(from, to));
    const proxy = await procs.own(
      startNginx(
        file,
        (port) => ({
          "10.0.0.11:8080": hostOf(gateway.base),
          "10.0.0.12:8080": hostOf(gateway.base),
          "0.0.0.0:443": `127.0.0.1:${port}`,
          "/etc/ssl/switchyard/fullchain.pem": tls.cert,
          "/etc/ssl/switchyard/privkey.pem": tls.key,
        }),
        { ca: tls.ca },
      ),
    );
    return `${proxy.base}/svc/mcp`;
  }

  it("proxy buffering on: events arrive together", async () => {
    const url = await broken("proxy_buffering off;", "proxy_buffering on;");
    const r = await check([url, "--ca", tls.ca, "--repeat", "2"]);
    assert.equal(r.code, 1);
    assert.equal(r.status("stream.buffering"), "fail");
    assert.match(r.title("stream.buffering"), /buffers the stream/);
    assert.equal(r.status("session.affinity"), "pass", "only the stream is wrong");
  });

  it("a read timeout (2 s) shorter than the idle period and the heartbeat (15 s): the idle stream is cut", async () => {
    const url = await broken("proxy_read_timeout 1h;", "proxy_read_timeout 2s;");
    const r = await check([url, "--ca", tls.ca, "--repeat", "2", "--idle", "5"]);
    assert.equal(r.code, 1);
    assert.equal(r.status("stream.idle"), "fail");
    // Cut by the 2 s read timeout: some time after the last event, before the 5 s idle period was over.
    assert.match(r.title("stream.idle"), /cut after [1-4]\.\d s of 5\.0 s \(heartbeats every 15\.0 s\)/);
    assert.equal(r.status("stream.buffering"), "pass");
  });

  it("Mcp-Session-Id hidden from answers: no session id, and the header not passed back", async () => {
    const url = await broken(
      "proxy_pass http://switchyard;",
      "proxy_pass http://switchyard;\n        proxy_hide_header Mcp-Session-Id;",
    );
    const r = await check([url, "--ca", tls.ca, "--repeat", "2"]);
    assert.equal(r.code, 1);
    assert.equal(r.status("session.id"), "warn");
    assert.equal(r.status("stream.headers"), "fail");
    assert.match(r.title("stream.headers"), /not passed back: mcp-session-id/);
  });

  it("Mcp-Session-Id stripped from requests: the session is lost, the header named", async () => {
    const url = await broken(
      "proxy_pass http://switchyard;",
      'proxy_pass http://switchyard;\n        proxy_set_header Mcp-Session-Id "";',
    );
    const r = await check([url, "--ca", tls.ca, "--repeat", "3"]);
    assert.equal(r.code, 1);
    assert.equal(r.status("session.affinity"), "fail");
    assert.match(r.title("stream.headers"), /dropped: mcp-session-id/);
  });
});
