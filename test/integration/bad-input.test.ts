import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, type Replica, startGateway, startReplica } from "../helpers/procs.js";

describe("bad input gets a clear error and the gateway keeps serving", () => {
  let replica: Replica;
  let gateway: GatewayProc;
  let url: string;

  before(async () => {
    replica = await startReplica("only");
    gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "warn"]);
    url = gateway.route("svc");
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  async function stillServing(): Promise<void> {
    const res = await rawRequest(url, { body: JSON.stringify(INIT_BODY) });
    assert.equal(res.status, 200);
    assert.ok(res.headers["mcp-session-id"], "initialize still works");
  }

  const cases: Array<{
    name: string;
    send: () => Promise<import("../helpers/http.js").RawResponse>;
    status: number;
    rpc: number;
    swy: string;
  }> = [
    {
      name: "malformed JSON",
      send: () => rawRequest(url, { body: '{"jsonrpc":"2.0","id":1,"method":' }),
      status: 400,
      rpc: -32700,
      swy: "SWY_PARSE_ERROR",
    },
    {
      name: "JSON that is not JSON-RPC",
      send: () => rawRequest(url, { body: '{"hello":"world"}' }),
      status: 400,
      rpc: -32600,
      swy: "SWY_INVALID_REQUEST",
    },
    {
      name: "an oversized body",
      send: () =>
        rawRequest(url, {
          body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"${"a".repeat(5 * 1024 * 1024)}"}}`,
        }),
      status: 413,
      rpc: -32600,
      swy: "SWY_BODY_TOO_LARGE",
    },
    {
      name: "an oversized chunked body (no Content-Length)",
      send: () =>
        rawRequest(url, {
          headers: { ...MCP_HEADERS, "transfer-encoding": "chunked" },
          body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"${"b".repeat(5 * 1024 * 1024)}"}}`,
        }),
      status: 413,
      rpc: -32600,
      swy: "SWY_BODY_TOO_LARGE",
    },
    {
      name: "an Accept that allows neither JSON nor SSE",
      send: () =>
        rawRequest(url, { headers: { ...MCP_HEADERS, accept: "text/html" }, body: JSON.stringify(INIT_BODY) }),
      status: 406,
      rpc: -32000,
      swy: "SWY_NOT_ACCEPTABLE",
    },
    {
      name: "a GET that does not accept SSE",
      send: () => rawRequest(url, { method: "GET", headers: { accept: "application/json" } }),
      status: 406,
      rpc: -32000,
      swy: "SWY_NOT_ACCEPTABLE_SSE",
    },
    {
      name: "a non-JSON Content-Type",
      send: () => rawRequest(url, { headers: { ...MCP_HEADERS, "content-type": "text/plain" }, body: "hi" }),
      status: 415,
      rpc: -32000,
      swy: "SWY_UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "a session id with a forbidden character",
      send: () => rawRequest(url, { headers: { ...MCP_HEADERS, "mcp-session-id": "abc def" }, body: rpc("ping") }),
      status: 400,
      rpc: -32000,
      swy: "SWY_BAD_SESSION_ID",
    },
    {
      name: "an absurdly long session id",
      send: () =>
        rawRequest(url, { headers: { ...MCP_HEADERS, "mcp-session-id": "a".repeat(4000) }, body: rpc("ping") }),
      status: 400,
      rpc: -32000,
      swy: "SWY_BAD_SESSION_ID",
    },
    {
      name: "an unknown session id",
      send: () =>
        rawRequest(url, { headers: { ...MCP_HEADERS, "mcp-session-id": "no-such-session" }, body: rpc("ping") }),
      status: 404,
      rpc: -32001,
      swy: "SWY_SESSION_NOT_FOUND",
    },
    {
      name: "an HTTP method MCP does not use",
      send: () => rawRequest(url, { method: "PUT", body: rpc("ping") }),
      status: 405,
      rpc: -32000,
      swy: "SWY_METHOD_NOT_ALLOWED",
    },
    {
      name: "a path with no route",
      send: () => rawRequest(`${gateway.base}/nope/mcp`, { body: rpc("ping") }),
      status: 404,
      rpc: -32000,
      swy: "SWY_ROUTE_NOT_FOUND",
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const res = await c.send();
      assert.equal(res.status, c.status);
      assert.match(String(res.headers["content-type"]), /application\/json/);
      assert.deepEqual(errorCode(res), { rpc: c.rpc, swy: c.swy });
      await stillServing();
    });
  }

  it("names the allowed methods on 405", async () => {
    const res = await rawRequest(url, { method: "PATCH", body: "{}" });
    assert.equal(res.headers.allow, "GET, POST, DELETE");
  });

  it("answers the request's own id in a refusal where it can", async () => {
    const res = await rawRequest(url, {
      headers: { ...MCP_HEADERS, "mcp-session-id": "unknown" },
      body: rpc("ping", {}, 42),
    });
    assert.equal((JSON.parse(res.body.toString()) as { id: number }).id, 42);
  });

  it("passes an unknown JSON-RPC method to the session's server and its answer back", async () => {
    const init = await rawRequest(url, { body: JSON.stringify(INIT_BODY) });
    const sid = init.headers["mcp-session-id"] as string;
    const headers = sessionHeaders(sid);
    await rawRequest(url, { headers, body: rpc("notifications/initialized", {}, null) });
    const res = await rawRequest(url, { headers, body: rpc("no/such/method", {}, 5) });
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /-32601/, "the server's Method-not-found comes back");
  });

  it("answers garbage on the wire with 400 and keeps serving", async () => {
    const { port } = new URL(gateway.base);
    const reply = await new Promise<string>((resolve) => {
      const s = netConnect(Number(port), "127.0.0.1");
      let got = "";
      s.on("data", (d) => {
        got += d.toString();
      });
      s.on("close", () => resolve(got));
      s.on("error", () => resolve(got));
      s.write("THIS IS NOT HTTP\r\n\r\n");
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.match(reply, /SWY_BAD_HTTP/);
    await stillServing();
  });

  it("survives clients that vanish mid-request", async () => {
    const { port } = new URL(gateway.base);
    for (let i = 0; i < 20; i++) {
      const s = netConnect(Number(port), "127.0.0.1");
      await new Promise((r) => s.once("connect", r));
      s.write(
        `POST /svc/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"jsonrpc"`,
      );
      s.destroy();
    }
    await stillServing();
  });
});

describe("Origin and Host checks (DNS rebinding)", () => {
  let replica: Replica;
  let gateway: GatewayProc;

  before(async () => {
    replica = await startReplica("only");
    gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "warn"]);
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  it("refuses a foreign Origin with 403", async () => {
    const res = await rawRequest(gateway.route("svc"), {
      headers: { ...MCP_HEADERS, origin: "https://evil.example.com" },
      body: JSON.stringify(INIT_BODY),
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(res).swy, "SWY_ORIGIN_FORBIDDEN");
  });

  it("refuses a non-loopback Host on a loopback listener", async () => {
    const res = await rawRequest(gateway.route("svc"), {
      headers: { ...MCP_HEADERS, host: "evil.example.com" },
      body: JSON.stringify(INIT_BODY),
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(res).swy, "SWY_HOST_FORBIDDEN");
  });

  it("accepts the gateway's own loopback origin and host", async () => {
    const { host } = new URL(gateway.base);
    const res = await rawRequest(gateway.route("svc"), {
      headers: { ...MCP_HEADERS, origin: `http://localhost:${new URL(gateway.base).port}`, host },
      body: JSON.stringify(INIT_BODY),
    });
    assert.equal(res.status, 200);
  });

  it("accepts configured origins and hosts", async () => {
    const g = await startGateway([
      "--upstream",
      `svc=${replica.url}`,
      "--log-level",
      "warn",
      "--config",
      (await import("../helpers/procs.js")).writeConfig(
        "security:\n  allowedOrigins: [https://app.example.com]\n  allowedHosts: [mcp.example.com]\n",
      ),
    ]);
    try {
      const ok = await rawRequest(g.route("svc"), {
        headers: { ...MCP_HEADERS, origin: "https://app.example.com", host: "mcp.example.com" },
        body: JSON.stringify(INIT_BODY),
      });
      assert.equal(ok.status, 200);
      const other = await rawRequest(g.route("svc"), {
        headers: { ...MCP_HEADERS, origin: "https://other.example.com" },
        body: JSON.stringify(INIT_BODY),
      });
      assert.equal(other.status, 403);
    } finally {
      await g.stop();
    }
  });
});
