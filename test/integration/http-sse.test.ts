import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { GONE } from "../helpers/affinity.js";
import { errorCode, rawRequest, rpc } from "../helpers/http.js";
import { INIT_BODY, type Whoami } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type GatewayProc,
  type Managed,
  ROOT,
  sleep,
  spawnManaged,
  startAll,
  startGateway,
  startOnFreePort,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { type SharedCluster, startSharedCluster } from "../helpers/redis.js";
import { openSse } from "../helpers/sse.js";
import { type FixtureServer, SSE_HEADERS, startFixture } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait.js";

const JSON_POST = { "content-type": "application/json" };
const EVERYTHING = join(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** An SDK HTTP+SSE client whose stream opens on `bases[first]` and whose POSTs go to each gateway in turn. */
async function sseClient(bases: string[], first: number) {
  let next = first;
  const transport = new SSEClientTransport(new URL(`${bases[first]}/svc/sse`), {
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if ((init?.method ?? "GET") === "POST") url.host = new URL(bases[++next % bases.length] as string).host;
      return fetch(url, init);
    },
  });
  const client = new Client({ name: "sse-test", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    async whoami() {
      const r = await client.callTool({ name: "whoami", arguments: {} });
      return r.structuredContent as { replica: string; sessionCalls: number };
    },
  };
}

/** A raw HTTP+SSE session: its stream, its message URL, and `whoami` answered on the stream. */
async function rawSseSession(gateway: GatewayProc) {
  const stream = await openSse(`${gateway.base}/svc/sse`);
  const url = (await stream.next((e) => e.event === "endpoint")).data;
  let id = 1;
  const call = async (body: string, expectId: number): Promise<Record<string, unknown>> => {
    const from = stream.events.length;
    const res = await rawRequest(url, { headers: JSON_POST, body });
    assert.equal(res.status, 202, res.body.toString());
    const answer = await stream.next((e) => e.event === "message" && JSON.parse(e.data).id === expectId, 10_000, from);
    return JSON.parse(answer.data).result as Record<string, unknown>;
  };
  await call(JSON.stringify({ ...INIT_BODY, id }), id);
  assert.equal(
    (await rawRequest(url, { headers: JSON_POST, body: rpc("notifications/initialized", {}, null) })).status,
    202,
  );
  return {
    stream,
    url,
    async whoami(): Promise<Whoami> {
      id++;
      const result = await call(rpc("tools/call", { name: "whoami", arguments: {} }, id), id);
      return result.structuredContent as Whoami;
    },
  };
}

/** `url` on another gateway (same path and query). */
function onGateway(url: string, gateway: GatewayProc): string {
  const u = new URL(url);
  u.host = new URL(gateway.base).host;
  return u.href;
}

describe("HTTP+SSE through two gateways sharing a redis-server", () => {
  let cluster: SharedCluster;
  let replicas: ExampleReplica[];
  let gateways: GatewayProc[];

  before(async () => {
    // Replicas that take a message for a session they do not know (202, dropped): a POST the gateway moved
    // silently would be "accepted", so only the gateway's own 404 passes these tests.
    cluster = await startSharedCluster({
      replicas: 2,
      gateways: 2,
      upstream: (rs) => `svc=${rs.map((r) => `sse+${r.sseUrl}`).join(",")}`,
      unknownSessions: "accept",
    });
    ({ replicas, gateways } = cluster);
  });
  after(async () => {
    await cluster?.stop();
  });

  it("SDK clients: the stream on one gateway, the POSTs alternating, every call answered in its session", async () => {
    const bases = gateways.map((g) => g.base);
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => sseClient(bases, i % 2)));
    const owners: string[] = [];
    for (let round = 1; round <= 5; round++) {
      const answers = await Promise.all(clients.map((c) => c.whoami()));
      answers.forEach((a, i) => {
        if (round === 1) owners[i] = a.replica;
        assert.equal(a.replica, owners[i], "always the replica that holds the stream");
        assert.equal(a.sessionCalls, round, "always the same session");
      });
    }
    assert.equal(new Set(owners).size, 2, "sessions spread over both replicas");
    await Promise.all(clients.map((c) => c.client.close()));
  });

  it("announces a message URL on the gateway that hides the replica's", async () => {
    const stream = await openSse(`${gateways[0]?.base}/svc/sse`);
    const endpoint = await stream.next((e) => e.event === "endpoint");
    assert.match(endpoint.data, new RegExp(`^${gateways[0]?.base}/svc/messages\\?sessionId=[A-Za-z0-9_-]{24}$`));
    assert.ok(!stream.raw().includes(replicas[0]?.sseUrl.split("/sse")[0] as string));
    assert.ok(!stream.raw().includes(replicas[1]?.sseUrl.split("/sse")[0] as string));
    stream.close();
  });

  it("answers an unknown session 404 and a missing one 400, at once, on any gateway", async () => {
    for (const g of gateways) {
      const started = Date.now();
      const unknown = await rawRequest(`${g.base}/svc/messages?sessionId=nope`, {
        headers: JSON_POST,
        body: rpc("tools/list"),
      });
      assert.equal(unknown.status, 404);
      assert.equal(errorCode(unknown).swy, "SWY_SESSION_NOT_FOUND");
      const missing = await rawRequest(`${g.base}/svc/messages`, { headers: JSON_POST, body: rpc("tools/list") });
      assert.equal(missing.status, 400);
      assert.equal(errorCode(missing).swy, "SWY_BAD_SESSION_ID");
      // Answered by the gateway (its codes above) without waiting on any upstream: far below any timeout.
      assert.ok(Date.now() - started < 5000);
      const wrongMethod = await rawRequest(`${g.base}/svc/sse`, { headers: JSON_POST, body: rpc("tools/list") });
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.allow, "GET");
      assert.equal((await rawRequest(`${g.base}/svc/mcp`, { body: rpc("tools/list") })).status, 404);
    }
  });

  it("forgets the session when the client closes its stream: later POSTs get 404 on every gateway", async () => {
    const stream = await openSse(`${gateways[0]?.base}/svc/sse`);
    const url = (await stream.next((e) => e.event === "endpoint")).data;
    const accepted = await rawRequest(onGateway(url, gateways[1] as GatewayProc), {
      headers: JSON_POST,
      body: JSON.stringify(INIT_BODY),
    });
    assert.equal(accepted.status, 202, "the replica's 202 comes back as it is");
    const answer = await stream.next((e) => e.event === "message");
    assert.equal(JSON.parse(answer.data).result.serverInfo.name, "switchyard-example", "the answer on the stream");
    stream.close();
    for (const g of gateways) {
      let code: string | undefined;
      await waitFor("every gateway to forget the closed stream's session", async () => {
        const res = await rawRequest(onGateway(url, g), { headers: JSON_POST, body: rpc("tools/list") });
        code = res.status === 404 ? errorCode(res).swy : undefined;
        return res.status === 404;
      });
      assert.equal(code, "SWY_SESSION_NOT_FOUND", "the gateway's own 404 (the replica would accept the POST)");
    }
  });

  it("kills the replica that holds streams: their POSTs get the gateway's 404 on every gateway, never another replica", async () => {
    const sessions = await Promise.all([0, 1, 0, 1, 0, 1].map((g) => rawSseSession(gateways[g] as GatewayProc)));
    const owners = await Promise.all(sessions.map((s) => s.whoami()));
    const [victim, survivor] = replicas as [ExampleReplica, ExampleReplica];
    const onVictim = sessions.filter((_, i) => owners[i]?.replica === victim.name);
    assert.ok(onVictim.length > 0, "some stream lives on the victim");
    for (const owner of owners) {
      if (owner.replica !== victim.name) continue;
      assert.ok((await victim.sawSession(owner.session)) > 0, "the victim saw the session's messages");
    }
    await victim.stop("SIGKILL");
    for (const [i, s] of sessions.entries()) {
      const owner = owners[i] as Whoami;
      if (owner.replica !== victim.name) {
        assert.equal((await s.whoami()).sessionCalls, 2, "streams on the live replica go on");
        continue;
      }
      await s.stream.ended; // the gateway ends the client's stream when the replica's ends
      for (const g of gateways) {
        const res = await rawRequest(onGateway(s.url, g), { headers: JSON_POST, body: rpc("tools/list") });
        assert.equal(res.status, 404);
        assert.ok(
          GONE.includes(errorCode(res).swy as (typeof GONE)[number]),
          `the gateway's 404: ${errorCode(res).swy}`,
        );
      }
      assert.equal(await survivor.sawSession(owner.session), 0, "the other replica never heard of the session");
    }
    for (const s of sessions) s.stream.close();
  });
});

describe("HTTP+SSE upstreams that misbehave, and public URLs", () => {
  let upstream: FixtureServer;
  let gateway: GatewayProc;
  const received: string[] = [];
  const getClosed: string[] = [];

  before(async () => {
    upstream = await startFixture(async (req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "POST") {
        received.push(`${url.pathname}${url.search}`);
        if (url.pathname === "/hang") return; // never answers
        res.writeHead(202).end("Accepted");
        return;
      }
      const mode = url.searchParams.get("mode") ?? "plain";
      req.on("close", () => getClosed.push(mode));
      res.writeHead(200, SSE_HEADERS);
      const origin = `http://${req.headers.host}`;
      if (mode === "absolute") {
        res.write(`: hello\n\nevent: endpoint\ndata: ${origin}/deep/msg?sessionId=abc&x=1\n\n`);
      } else if (mode === "foreign") {
        res.write("event: endpoint\ndata: http://169.254.169.254/latest/meta-data?x=1\n\n");
      } else if (mode === "hang") {
        res.write("event: endpoint\ndata: /hang?sessionId=h\n\n");
      } else if (mode === "ends") {
        res.write("event: endpoint\ndata: /msg?sessionId=e\n\n");
        setTimeout(() => res.end(), 100);
      } else if (mode === "split") {
        for (const ch of "event: endpoint\r\ndata: /msg?sessionId=split\r\n\r\n") {
          res.write(ch);
          await sleep(2);
        }
        res.write('event: message\r\ndata: {"jsonrpc":"2.0","method":"ping"}\r\n\r\n');
      } else {
        res.write("event: endpoint\ndata: /msg?sessionId=plain\n\n");
      }
    });
    const sseUrl = upstream.url.replace(/\/mcp$/, "/sse");
    gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
upstreams:
  svc:
    replicas: [${sseUrl}]
    transport: sse
health:
  enabled: false
heartbeat:
  interval: 150ms
timeouts:
  sseMessage: 500ms
security:
  trustProxy: true
`),
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it("rewrites an absolute endpoint and POSTs to the exact path and query the replica announced", async () => {
    const stream = await openSse(`${gateway.base}/svc/sse?mode=absolute`);
    const url = (await stream.next((e) => e.event === "endpoint")).data;
    assert.ok(url.startsWith(`${gateway.base}/svc/messages?sessionId=`), url);
    assert.ok(stream.raw().startsWith(": hello\n\n"), "what came before the endpoint passes unchanged");
    const res = await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list") });
    assert.equal(res.status, 202);
    assert.equal(res.body.toString(), "Accepted");
    assert.equal(received.at(-1), "/deep/msg?sessionId=abc&x=1");
    await sleep(400); // idle on purpose: what the gateway writes while nothing happens is under test
    assert.match(stream.raw().split(url)[1] as string, /^\n\n(:\n\n)+$/, "heartbeats between events");
    stream.close();
    await waitFor("the client leaving to close the upstream stream", () => getClosed.includes("absolute"));
  });

  it("finds an endpoint event split byte by byte with CRLF line ends", async () => {
    const stream = await openSse(`${gateway.base}/svc/sse?mode=split`);
    const url = (await stream.next((e) => e.event === "endpoint")).data;
    assert.ok(url.startsWith(`${gateway.base}/svc/messages?sessionId=`));
    assert.equal((await stream.next((e) => e.event === "message")).data, '{"jsonrpc":"2.0","method":"ping"}');
    await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list") });
    assert.equal(received.at(-1), "/msg?sessionId=split");
    stream.close();
  });

  it("refuses an endpoint on another origin: the stream is closed, nothing is announced", async () => {
    const stream = await openSse(`${gateway.base}/svc/sse?mode=foreign`);
    await stream.ended;
    assert.ok(!stream.raw().includes("endpoint"));
    assert.ok(!stream.raw().includes("169.254"));
  });

  it("times out an upstream that never answers a message: 504 with a JSON-RPC error", async () => {
    const stream = await openSse(`${gateway.base}/svc/sse?mode=hang`);
    const url = (await stream.next((e) => e.event === "endpoint")).data;
    const started = Date.now();
    const res = await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list", {}, 7) });
    assert.equal(res.status, 504);
    assert.equal(errorCode(res).swy, "SWY_UPSTREAM_TIMEOUT");
    assert.equal(JSON.parse(res.body.toString()).id, 7);
    assert.ok(Date.now() - started < 2000, `timely (${Date.now() - started} ms)`);
    stream.close();
  });

  it("forgets the session when the replica ends the stream", async () => {
    const stream = await openSse(`${gateway.base}/svc/sse?mode=ends`);
    const url = (await stream.next((e) => e.event === "endpoint")).data;
    await stream.ended;
    let res = await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list") });
    await waitFor("the gateway to forget the ended stream's session", async () => {
      res = await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list") });
      return res.status === 404;
    });
    assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND");
  });

  it("announces URLs under X-Forwarded-Proto/-Host when trusted, and under publicUrl when configured", async () => {
    const forwarded = await openSse(`${gateway.base}/svc/sse`, {
      headers: { accept: "text/event-stream", "x-forwarded-proto": "https", "x-forwarded-host": "mcp.example.com" },
    });
    const url = (await forwarded.next((e) => e.event === "endpoint")).data;
    assert.ok(url.startsWith("https://mcp.example.com/svc/messages?sessionId="), url);
    forwarded.close();
    const sseUrl = upstream.url.replace(/\/mcp$/, "/sse");
    const g = await startGateway([
      "--config",
      writeConfig(
        `logLevel: warn\npublicUrl: https://tools.example.org/gw/\nupstreams:\n  svc:\n    replicas: [sse+${sseUrl}]\n`,
      ),
    ]);
    try {
      const stream = await openSse(`${g.base}/svc/sse`);
      const announced = (await stream.next((e) => e.event === "endpoint")).data;
      assert.ok(announced.startsWith("https://tools.example.org/gw/svc/messages?sessionId="), announced);
      stream.close();
    } finally {
      await g.stop();
    }
  });
});

describe("@modelcontextprotocol/server-everything in sse mode behind the gateway", () => {
  it("works with an SDK HTTP+SSE client", async () => {
    const [port, server] = await startOnFreePort(async (p) => [p, await startEverything(p)] as const);
    const gateway = await startGateway([
      "--upstream",
      `everything=sse+http://127.0.0.1:${port}/sse`,
      "--log-level",
      "warn",
    ]);
    const client = new Client({ name: "everything-sse", version: "1.0.0" });
    try {
      await client.connect(new SSEClientTransport(new URL(`${gateway.base}/everything/sse`)));
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === "echo"));
      const echoed = await client.callTool({ name: "echo", arguments: { message: "through the gateway" } });
      assert.match(JSON.stringify(echoed.content), /through the gateway/);
    } finally {
      await client.close();
      await gateway.stop();
      await server.stop();
    }
  });
});

describe("HTTP+SSE with signed session ids and no store, two gateways", () => {
  it("routes the POSTs from either gateway, and refuses them once the stream closed", async () => {
    const replicas = await startAll(["r1", "r2"].map((n) => startReplica(n, undefined, { unknownSessions: "accept" })));
    const config = writeConfig(`logLevel: warn
affinity: token
tokens:
  keys: [{ id: 3, secret: ${Buffer.alloc(32, 7).toString("base64")} }]
upstreams:
  svc:
    replicas: [${replicas.map((r) => `sse+${r.sseUrl}`).join(", ")}]
`);
    const gateways = await startAll([1, 2].map(() => startGateway(["--config", config])));
    try {
      const clients = await Promise.all(
        [0, 1, 0, 1].map((first) =>
          sseClient(
            gateways.map((g) => g.base),
            first,
          ),
        ),
      );
      for (let round = 1; round <= 3; round++) {
        for (const c of clients) assert.equal((await c.whoami()).sessionCalls, round);
      }
      const stream = await openSse(`${gateways[0]?.base}/svc/sse`);
      const url = (await stream.next((e) => e.event === "endpoint")).data;
      const id = new URL(url).searchParams.get("sessionId") as string;
      assert.ok(id.length < 256 && !id.includes("messages"), "a sealed id: the replica's path is not readable");
      const ok = await rawRequest(onGateway(url, gateways[1] as GatewayProc), {
        headers: JSON_POST,
        body: JSON.stringify(INIT_BODY),
      });
      assert.equal(ok.status, 202);
      stream.close();
      let gone = await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list") });
      await waitFor("the gateway that held the stream to revoke its id", async () => {
        gone = await rawRequest(url, { headers: JSON_POST, body: rpc("tools/list") });
        return gone.status === 404;
      });
      assert.equal(errorCode(gone).swy, "SWY_SESSION_NOT_FOUND", "revoked by the gateway that held the stream");
      await Promise.all(clients.map((c) => c.client.close()));
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });
});

/** server-everything over HTTP+SSE on `port`; throws with its output if it exits or never says it listens. */
async function startEverything(port: number): Promise<Managed> {
  const server = spawnManaged(process.execPath, [EVERYTHING, "sse"], { PORT: String(port) });
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  try {
    await waitFor("server-everything to listen", () => {
      if (exited) throw new Error(`server-everything exited: ${server.stderr.join("\n")}`);
      return server.stderr.some((l) => l.includes("running on port"));
    });
  } catch (err) {
    await server.stop("SIGKILL");
    throw new Error(`${(err as Error).message}\n${server.stderr.join("\n")}`);
  }
  return server;
}
