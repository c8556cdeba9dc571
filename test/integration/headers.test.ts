import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, startGateway, writeConfig } from "../helpers/procs.js";
import { type FixtureServer, startFixture } from "../helpers/upstream.js";

describe("header policy", () => {
  let upstream: FixtureServer;
  let gateway: GatewayProc;
  let trusting: GatewayProc;
  let seen: IncomingHttpHeaders = {};

  before(async () => {
    upstream = await startFixture((req, res, body) => {
      // The gateway's own discovery requests (in the background) are not the ones under test.
      if (req.headers["user-agent"] !== "switchyard-discovery") seen = req.headers;
      const isInit = body.toString().includes('"initialize"');
      res.writeHead(isInit ? 200 : 401, {
        "content-type": "application/json",
        ...(isInit
          ? { "mcp-session-id": "sess-123" }
          : { "www-authenticate": 'Bearer resource_metadata="https://as/x"' }),
        connection: "x-upstream-hop",
        "x-upstream-hop": "1",
        "proxy-authenticate": "Basic",
        "x-upstream-end": "kept",
      });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    gateway = await startGateway(["--upstream", `h=${upstream.url}`, "--log-level", "warn"]);
    trusting = await startGateway([
      "--upstream",
      `h=${upstream.url}`,
      "--config",
      writeConfig("logLevel: warn\nsecurity:\n  trustProxy: true\n"),
    ]);
  });
  after(async () => {
    await Promise.all([gateway?.stop(), trusting?.stop()]);
    await upstream?.close();
  });

  it("forwards MCP and end-to-end headers, strips hop-by-hop ones, sets X-Forwarded-*", async () => {
    const init = await rawRequest(gateway.route("h"), { body: JSON.stringify(INIT_BODY) });
    assert.equal(init.headers["mcp-session-id"], "sess-123", "Mcp-Session-Id comes back");
    const res = await rawRequest(gateway.route("h"), {
      headers: {
        ...MCP_HEADERS,
        "mcp-session-id": "sess-123",
        "mcp-protocol-version": "2025-11-25",
        "last-event-id": "ev-42",
        authorization: "Bearer upstream-token",
        "mcp-method": "tools/call",
        "mcp-name": "echo",
        "mcp-param-region": "eu-west-1",
        "mcp-param-note": "=?base64?SGVsbG8gw6k=?=",
        "x-custom": "yes",
        connection: "keep-alive, x-drop-me",
        "x-drop-me": "secret-hop",
        te: "trailers",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        "x-forwarded-for": "6.6.6.6",
        "accept-encoding": "gzip, br",
      },
      body: rpc("tools/call", { name: "echo", arguments: {} }),
    });
    for (const [name, value] of Object.entries({
      "mcp-session-id": "sess-123",
      "mcp-protocol-version": "2025-11-25",
      accept: MCP_HEADERS.accept,
      "content-type": "application/json",
      "last-event-id": "ev-42",
      authorization: "Bearer upstream-token",
      "mcp-method": "tools/call",
      "mcp-name": "echo",
      "mcp-param-region": "eu-west-1",
      "mcp-param-note": "=?base64?SGVsbG8gw6k=?=",
      "x-custom": "yes",
    })) {
      assert.equal(seen[name], value, `${name} reaches the upstream`);
    }
    for (const name of ["x-drop-me", "te", "proxy-authorization", "accept-encoding"]) {
      assert.equal(seen[name], undefined, `${name} must not reach the upstream`);
    }
    assert.equal(seen["x-forwarded-for"], "127.0.0.1", "an untrusted X-Forwarded-For is replaced");
    assert.equal(seen["x-forwarded-proto"], "http");
    assert.equal(seen["x-forwarded-host"], new URL(gateway.base).host);
    assert.match(String(seen.host), /^127\.0\.0\.1:\d+$/, "Host names the upstream");
    // And back.
    assert.equal(res.status, 401);
    assert.equal(res.headers["www-authenticate"], 'Bearer resource_metadata="https://as/x"');
    assert.equal(res.headers["x-upstream-end"], "kept");
    assert.equal(res.headers["x-upstream-hop"], undefined, "headers named by the upstream's Connection are dropped");
    assert.equal(res.headers["proxy-authenticate"], undefined);
  });

  it("appends to X-Forwarded-* when the previous hop is trusted", async () => {
    await rawRequest(trusting.route("h"), {
      headers: {
        ...MCP_HEADERS,
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "mcp.example.com",
      },
      body: rpc("ping"),
    });
    assert.equal(seen["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert.equal(seen["x-forwarded-proto"], "https");
    assert.equal(seen["x-forwarded-host"], "mcp.example.com");
  });
});

describe("an operator route's own upstream headers (a credential of the gateway's, from a mounted file)", () => {
  let upstream: FixtureServer;
  let gateway: GatewayProc;
  let seen: IncomingHttpHeaders = {};
  const dir = mkdtempSync(join(tmpdir(), "swy-secret-"));
  const secret = join(dir, "upstream-token");

  before(async () => {
    upstream = await startFixture((req, res) => {
      if (req.headers["user-agent"] !== "switchyard-discovery" && req.method === "POST") seen = req.headers;
      res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s-1" });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    writeFileSync(secret, "first-secret\n");
    gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: info
upstreams:
  h:
    replicas: [${upstream.url}]
    headers:
      X-Tenant: gateway
    headerFiles:
      X-Upstream-Token: ${secret}
`),
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it("replaces the client's headers of those names, passes the rest, and reads a rotated file on reload", async () => {
    const headers = { ...MCP_HEADERS, "x-upstream-token": "forged", "x-tenant": "client", authorization: "Bearer c" };
    await rawRequest(gateway.route("h"), { headers, body: JSON.stringify(INIT_BODY) });
    assert.equal(seen["x-upstream-token"], "first-secret", "the file's content, without its newline");
    assert.equal(seen["x-tenant"], "gateway");
    assert.equal(seen.authorization, "Bearer c", "an operator route passes the client's Authorization on");
    writeFileSync(secret, "rotated-secret\n");
    gateway.child.kill("SIGHUP");
    await gateway.waitForLine((l) => l.includes("configuration reloaded"));
    await rawRequest(gateway.route("h"), { headers, body: JSON.stringify(INIT_BODY) });
    assert.equal(seen["x-upstream-token"], "rotated-secret");
    assert.ok(!gateway.lines.some((l) => l.includes("rotated-secret") || l.includes("first-secret")), "never logged");
  });
});
