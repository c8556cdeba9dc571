import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createGateway, type Gateway, loadConfig } from "../../src/index.js";
import { createStore } from "../../src/sessions/create-store.js";
import { startHaNode } from "../helpers/ha.js";
import { INIT_BODY, MCP_HEADERS, modernBody, modernHeaders } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type Managed,
  type Replica,
  ROOT,
  spawnManaged,
  startDualEra,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

const RECORDER = join(ROOT, "test/fixtures/trace-recorder.mjs");

interface Seen {
  method: string | undefined;
  header: string | null;
  meta: Record<string, unknown> | null;
  raw: string;
}

async function startRecorder(): Promise<Managed & { url: string; seen(): Promise<Seen[]> }> {
  const proc = spawnManaged(process.execPath, [RECORDER]);
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  const url = (JSON.parse(line) as { url: string }).url;
  return Object.assign(proc, {
    url,
    seen: async () => (await (await fetch(new URL("/seen", url))).json()) as Seen[],
  });
}

/** A client's own trace context (as an instrumented client would send it). */
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const META_PARENT = `00-${CLIENT_TRACE}-00f067aa0ba902b7-01`;
const HEADER_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const SECRET_ARGUMENT = "argument-value-never-in-a-span";

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const spans = () => exporter.getFinishedSpans();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const childrenOf = (s: ReadableSpan) => spans().filter((c) => parentOf(c) === s.spanContext().spanId);

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: "POST", headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, sid: res.headers.get("mcp-session-id"), text };
}

describe("OpenTelemetry spans by the MCP conventions (an SDK registered in the process, in-memory exporter)", () => {
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  let dual: Replica;
  let example: ExampleReplica;
  let gateway: Gateway;
  let base: string;
  const sessions: string[] = [];

  before(async () => {
    [recorder, dual, example] = await Promise.all([
      startRecorder(),
      startDualEra("traced"),
      startReplica("sse-traced"),
    ]);
    const config = loadConfig({
      file: writeConfig(`listen: 127.0.0.1:0
logLevel: silent
health: { enabled: false }
upstreams:
  rec: { replicas: [${recorder.url}] }
  modern: { replicas: [${dual.url}] }
  legacy-sse: { replicas: [${example.sseUrl}], transport: sse }
  retry:
    replicas: [http://127.0.0.1:9/mcp, ${recorder.url}]
    balancer: round-robin
virtual:
  v: { members: [rec, modern] }
`),
    });
    gateway = createGateway(config);
    base = await gateway.listen();
  });
  after(async () => {
    await gateway?.close();
    await Promise.all([recorder?.stop(), dual?.stop(), example?.stop()]);
  });

  it("a legacy session's call: SERVER span from _meta's context (the header's a link), CLIENT span as the replica's parent, in header and _meta", async () => {
    const init = await post(`${base}/rec/mcp`, INIT_BODY);
    const sid = init.sid as string;
    sessions.push(sid);
    await post(`${base}/rec/mcp`, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sid });
    const call = {
      jsonrpc: "2.0",
      id: 42,
      method: "tools/call",
      params: {
        name: "echo",
        arguments: { text: SECRET_ARGUMENT },
        _meta: { traceparent: META_PARENT, progressToken: 7 },
      },
    };
    const answer = await post(`${base}/rec/mcp`, call, { "mcp-session-id": sid, traceparent: HEADER_PARENT });
    assert.equal(answer.status, 200);
    assert.match(answer.text, new RegExp(SECRET_ARGUMENT));

    const server = spans().find((s) => s.name === "tools/call echo" && s.kind === SpanKind.SERVER);
    assert.ok(
      server,
      `a SERVER span "tools/call echo" (got ${spans()
        .map((s) => s.name)
        .join(", ")})`,
    );
    assert.equal(server.spanContext().traceId, CLIENT_TRACE, "the client's _meta context is the parent");
    assert.equal(parentOf(server), "00f067aa0ba902b7");
    assert.equal(server.links[0]?.context.traceId, "0af7651916cd43dd8448eb211c80319c", "the HTTP context is a link");
    const a = server.attributes;
    assert.equal(a["mcp.method.name"], "tools/call");
    assert.equal(a["gen_ai.tool.name"], "echo");
    assert.equal(a["gen_ai.operation.name"], "execute_tool");
    assert.equal(a["jsonrpc.request.id"], "42");
    assert.equal(a["switchyard.route"], "rec");
    assert.equal(a["switchyard.era"], "legacy");
    assert.equal(a["http.response.status_code"], 200);
    assert.equal(typeof a["mcp.session.id"], "string");
    assert.notEqual(a["mcp.session.id"], sid, "the session id is hashed");
    const [client, ...more] = childrenOf(server);
    assert.equal(more.length, 0);
    assert.ok(client);
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.equal(client.attributes["switchyard.attempt"], 1);
    assert.equal(client.attributes["server.address"], "127.0.0.1");

    // The replica got the gateway's CLIENT span as its parent, both ways; nothing else in the body changed.
    const seen = (await recorder.seen()).filter((s) => s.method === "tools/call").at(-1) as Seen;
    const expected = `00-${CLIENT_TRACE}-${client.spanContext().spanId}-01`;
    assert.equal(seen.header, expected);
    assert.equal(seen.meta?.traceparent, expected);
    assert.equal(seen.meta?.progressToken, 7);
    assert.equal(seen.raw, JSON.stringify(call).replace(META_PARENT, expected));
  });

  it("a modern call: its SERVER span (era modern) and the CLIENT span of the attempt", async () => {
    const res = await fetch(`${base}/modern/mcp`, {
      method: "POST",
      headers: { ...modernHeaders("tools/call", "whoami"), traceparent: HEADER_PARENT },
      body: modernBody("tools/call", { name: "whoami", arguments: {} }, "m-1"),
    });
    assert.equal(res.status, 200);
    await res.text();
    const server = spans().find((s) => s.name === "tools/call whoami" && s.attributes["switchyard.era"] === "modern");
    assert.ok(server);
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(
      server.spanContext().traceId,
      "0af7651916cd43dd8448eb211c80319c",
      "the header's context is the parent",
    );
    assert.equal(server.attributes["mcp.protocol.version"], "2026-07-28");
    assert.equal(server.attributes["jsonrpc.request.id"], "m-1");
    assert.equal(childrenOf(server).filter((c) => c.kind === SpanKind.CLIENT).length, 1);
  });

  it("an HTTP+SSE exchange: one span for the stream's life with its milestones, one per message POST", async () => {
    const client = new Client({ name: "sse", version: "1" });
    await client.connect(new SSEClientTransport(new URL(`${base}/legacy-sse/sse`)));
    await client.callTool({ name: "whoami", arguments: {} });
    await client.close();
    const isStream = (s: ReadableSpan) => s.name === "GET /legacy-sse/sse" && s.kind === SpanKind.SERVER;
    await waitFor("the stream's span to end", () => spans().some(isStream));
    const stream = spans().find(isStream) as ReadableSpan;
    assert.ok(
      stream.events.some((e) => e.name === "stream.opened"),
      "the stream opening is an event",
    );
    assert.equal(spans().filter(isStream).length, 1, "one span for the stream, not one per event");
    assert.equal(childrenOf(stream).length, 1, "its one attempt to the replica, for the stream's life");
    const message = spans().find(
      (s) => s.name === "tools/call whoami" && s.attributes["switchyard.route"] === "legacy-sse",
    );
    assert.ok(message, "the message POST has its span");
  });

  it("a refusal: the SERVER span carries the SWY_* code as error.type, status ERROR", async () => {
    const res = await post(
      `${base}/rec/mcp`,
      { jsonrpc: "2.0", id: 5, method: "tools/list" },
      { "mcp-session-id": "no-such-session" },
    );
    assert.equal(res.status, 404);
    const refused = spans().find((s) => s.attributes["switchyard.code"] === "SWY_SESSION_NOT_FOUND") as ReadableSpan;
    assert.ok(refused);
    assert.equal(refused.name, "tools/list");
    assert.equal(refused.attributes["error.type"], "SWY_SESSION_NOT_FOUND");
    assert.equal(refused.status.code, SpanStatusCode.ERROR);
    const unrouted = await post(`${base}/nowhere/mcp`, INIT_BODY);
    assert.equal(unrouted.status, 404);
    assert.ok(
      spans().some((s) => s.attributes["switchyard.code"] === "SWY_ROUTE_NOT_FOUND" && s.kind === SpanKind.SERVER),
    );
  });

  it("a retry on another replica: two CLIENT spans under one SERVER span, the first failed", async () => {
    let retried: ReadableSpan | undefined;
    for (let i = 0; i < 4 && !retried; i++) {
      const res = await post(`${base}/retry/mcp`, INIT_BODY);
      assert.equal(res.status, 200);
      if (res.sid) sessions.push(res.sid);
      retried = spans().find(
        (s) => s.attributes["switchyard.route"] === "retry" && s.kind === SpanKind.SERVER && childrenOf(s).length === 2,
      );
    }
    assert.ok(retried, "an initialize went to the dead replica first");
    const [first, second] = childrenOf(retried).sort(
      (x, y) => Number(x.attributes["switchyard.attempt"]) - Number(y.attributes["switchyard.attempt"]),
    );
    assert.equal(first?.attributes["switchyard.attempt"], 1);
    assert.equal(first?.status.code, SpanStatusCode.ERROR);
    assert.equal(first?.attributes["server.port"], 9);
    assert.equal(second?.attributes["switchyard.attempt"], 2);
    assert.equal(second?.attributes["http.response.status_code"], 200);
  });

  it("a virtual server's call: one CLIENT span per member call, under the client's request", async () => {
    const init = await post(`${base}/v/mcp`, INIT_BODY);
    const sid = init.sid as string;
    sessions.push(sid);
    await post(`${base}/v/mcp`, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sid });
    const answer = await post(
      `${base}/v/mcp`,
      {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: "rec_echo", arguments: { text: SECRET_ARGUMENT } },
      },
      { "mcp-session-id": sid },
    );
    assert.equal(answer.status, 200);
    const server = spans().find((s) => s.name === "tools/call rec_echo" && s.kind === SpanKind.SERVER) as ReadableSpan;
    assert.ok(server);
    const members = childrenOf(server).filter((c) => c.kind === SpanKind.CLIENT);
    assert.equal(members.length, 1);
    assert.equal(members[0]?.name, "tools/call echo", "the member's own name for the tool");
    assert.equal(members[0]?.attributes["switchyard.member"], "rec");
  });

  it("a session-store lookup that leaves the process (Redis) is a span under the request's", async () => {
    const redis = await startRedis();
    const configOf = () =>
      loadConfig({
        file: writeConfig(`listen: 127.0.0.1:0
logLevel: silent
store: { url: ${redis.url} }
upstreams:
  rec: { replicas: [${recorder.url}] }
`),
      });
    const one = createGateway(configOf(), { store: await createStore(configOf()) });
    const two = createGateway(configOf(), { store: await createStore(configOf()) });
    try {
      const [a, b] = [await one.listen(), await two.listen()];
      const init = await post(`${a}/rec/mcp`, INIT_BODY);
      sessions.push(init.sid as string);
      // The second gateway never saw the session: it asks Redis.
      const res = await post(
        `${b}/rec/mcp`,
        { jsonrpc: "2.0", id: 9, method: "tools/list" },
        { "mcp-session-id": init.sid as string },
      );
      assert.equal(res.status, 200);
      const lookup = spans().find((s) => s.name === "session store get") as ReadableSpan;
      assert.ok(lookup);
      assert.equal(lookup.attributes["db.system.name"], "redis");
      const parent = spans().find((s) => s.spanContext().spanId === parentOf(lookup));
      assert.equal(parent?.name, "tools/list");
      assert.equal(parent?.kind, SpanKind.SERVER);
    } finally {
      await one.close();
      await two.close();
      await redis.stop();
    }
  });

  it("no body, argument or raw session id in any span", () => {
    const everything = JSON.stringify(
      spans().map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        links: s.links.map((l) => l.attributes),
      })),
    );
    assert.ok(!everything.includes(SECRET_ARGUMENT), "no argument");
    assert.ok(sessions.length >= 2);
    for (const sid of sessions) assert.ok(!everything.includes(sid), "no raw session id");
    assert.ok(!everything.includes('"jsonrpc"'), "no body");
  });
});

describe("the OTLP exporter (tracing.otlp) delivers to a real OTLP/HTTP receiver", () => {
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  const received: Array<{ path: string; body: Record<string, unknown>; headers: IncomingMessage["headers"] }> = [];
  let receiver: ReturnType<typeof createServer>;
  let endpoint: string;

  before(async () => {
    recorder = await startRecorder();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          path: req.url ?? "",
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
          headers: req.headers,
        });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(async () => {
    await recorder?.stop();
    receiver?.close();
  });

  it("spans and the MCP metrics arrive, decoded: names, kinds, attributes; the request's log line carries its trace id", async () => {
    const gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: info
tracing:
  otlp:
    endpoint: ${endpoint}
    headers: { x-collector-key: k1 }
    serviceName: gw-under-test
    metricsInterval: 500ms
upstreams:
  rec: { replicas: [${recorder.url}] }
`),
    ]);
    try {
      const init = await post(gateway.route("rec"), INIT_BODY);
      await post(
        gateway.route("rec"),
        { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } },
        {
          "mcp-session-id": init.sid as string,
        },
      );
      // The session ends: its duration is the other MCP metric.
      const ended = await fetch(gateway.route("rec"), {
        method: "DELETE",
        headers: { ...MCP_HEADERS, "mcp-session-id": init.sid as string },
      });
      assert.equal(ended.status, 200);
      // The batch processor exports within its delay; SIGTERM flushes what is left.
      await gateway.stop();
      await waitFor(
        "traces and metrics at the receiver",
        () => received.some((r) => r.path === "/v1/traces") && received.some((r) => r.path === "/v1/metrics"),
      );
      type OtlpSpan = {
        name: string;
        kind: number;
        traceId: string;
        attributes: Array<{ key: string; value: Record<string, unknown> }>;
      };
      const exported = received
        .filter((r) => r.path === "/v1/traces")
        .flatMap(
          (r) =>
            r.body.resourceSpans as Array<{
              resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
              scopeSpans: Array<{ spans: OtlpSpan[] }>;
            }>,
        )
        .flatMap((rs) => {
          assert.ok(
            rs.resource.attributes.some((a) => a.key === "service.name" && a.value.stringValue === "gw-under-test"),
          );
          return rs.scopeSpans.flatMap((s) => s.spans);
        });
      // OTLP's span kinds: 2 SERVER, 3 CLIENT.
      const call = exported.find((s) => s.name === "tools/call echo" && s.kind === 2);
      assert.ok(call, `exported: ${exported.map((s) => `${s.name} (${s.kind})`).join(", ")}`);
      const attr = (s: OtlpSpan, k: string) => s.attributes.find((a) => a.key === k)?.value;
      assert.deepEqual(attr(call, "gen_ai.tool.name"), { stringValue: "echo" });
      assert.ok(
        exported.some((s) => s.kind === 3 && s.traceId === call.traceId),
        "its CLIENT span, same trace",
      );
      assert.equal(received.find((r) => r.path === "/v1/traces")?.headers["x-collector-key"], "k1");
      const metricNames = received
        .filter((r) => r.path === "/v1/metrics")
        .flatMap((r) => JSON.stringify(r.body).match(/"name":"mcp\.[a-z.]+"/g) ?? []);
      assert.ok(metricNames.includes('"name":"mcp.server.operation.duration"'));
      assert.ok(metricNames.includes('"name":"mcp.server.session.duration"'), "a session's duration, at its DELETE");
      const logged = gateway.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.rpcMethod === "tools/call");
      const traceHex =
        Buffer.from(call.traceId, "hex").length === 16
          ? call.traceId
          : Buffer.from(call.traceId, "base64").toString("hex");
      assert.equal(logged?.traceId, traceHex, "the log line names the trace");
    } finally {
      await gateway.stop();
    }
  });
});

describe("switchyard/ha: spans for the forward hop and the adoption (an ha node exporting by OTLP)", () => {
  it("a session's request at another node is a CLIENT hop span; after its owner's death, the adoption is a span", async () => {
    const received: Array<{ path: string; body: Record<string, unknown> }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const otlp = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const redis = await startRedis();
    const [a, b] = await Promise.all([
      startHaNode("ta", redis.url, ["--otlp", otlp]),
      startHaNode("tb", redis.url, ["--otlp", otlp]),
    ]);
    try {
      const init = await post(a.url, INIT_BODY);
      const sid = init.sid as string;
      await post(a.url, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sid });
      const inc = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "increment", arguments: {} } };
      // At the other node: forwarded to the owner, with the caller's trace.
      assert.equal((await post(b.url, inc, { "mcp-session-id": sid, traceparent: HEADER_PARENT })).status, 200);
      await a.stop("SIGKILL");
      assert.equal((await post(b.url, { ...inc, id: 3 }, { "mcp-session-id": sid })).status, 200, "adopted by b");
      await b.stop();
      const names = () =>
        received
          .filter((r) => r.path === "/v1/traces")
          .flatMap(
            (r) =>
              r.body.resourceSpans as Array<{
                scopeSpans: Array<{ spans: Array<{ name: string; kind: number; traceId: string }> }>;
              }>,
          )
          .flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      await waitFor("b's spans at the receiver", () => names().some((s) => s.name === "mcp session adopt"));
      const hop = names().find((s) => s.name === "mcp forward hop");
      assert.ok(
        hop,
        `exported: ${names()
          .map((s) => s.name)
          .join(", ")}`,
      );
      assert.equal(hop.kind, 3, "CLIENT");
      const traceHex = hop.traceId.length === 32 ? hop.traceId : Buffer.from(hop.traceId, "base64").toString("hex");
      assert.equal(traceHex, "0af7651916cd43dd8448eb211c80319c", "the caller's trace");
    } finally {
      await a.stop();
      await b.stop();
      await redis.stop();
      receiver.close();
    }
  });
});
