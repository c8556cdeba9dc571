import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type RawResponse, rawRequest } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type GatewayProc,
  owned,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { exchange } from "../helpers/raw-http.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";

const ADMIN = "exposure-admin-token-0123456789";
const METRICS = "exposure-metrics-token-0123456789";
const UPSTREAM_KEY = "exposure-upstream-credential-0123456789";
const DEAD = "http://127.0.0.1:9/mcp";

/**
 * What a stranger can learn from the public listener: a client with no credential walks every path the
 * gateway serves, unknown ones, and every refusal it can provoke; no answer (status line, headers, body)
 * may name a replica's address or port, an upstream session id of another client, a tenant other than
 * the one in the path, or a configured secret.
 */
describe("exposure: nothing of the inside in any answer of the public listener", () => {
  const procs = owned();
  let replicas: ExampleReplica[];
  let gateway: GatewayProc;
  let base: string;
  const secrets = [ADMIN, METRICS, UPSTREAM_KEY];
  const tokenKey = randomBytes(32).toString("base64");

  before(async () => {
    const redis: RedisServer = await procs.own(startRedis());
    replicas = await Promise.all(["e1", "e2", "hidden-tenant-server"].map((n) => procs.own(startReplica(n))));
    const [r1, r2, tenantServer] = replicas as [ExampleReplica, ExampleReplica, ExampleReplica];
    gateway = await procs.own(
      startGateway([
        "--listen",
        "0.0.0.0:0",
        "--config",
        writeConfig(`logLevel: warn
store:
  url: ${redis.url}
admin:
  token: ${ADMIN}
  allowHttpServers: true
metrics:
  token: ${METRICS}
tokens:
  keys: [{ id: 2, secret: ${tokenKey} }]
security:
  ssrf:
    allow: [127.0.0.1/32]
upstreams:
  svc:
    replicas: [${r1.url}, ${r2.url}]
    headers:
      X-Upstream-Key: ${UPSTREAM_KEY}
  legacy:
    replicas: [sse+${r1.sseUrl}]
  dead:
    replicas: [${DEAD}]
`),
      ]),
    );
    base = gateway.base.replace("0.0.0.0", "127.0.0.1");
    const admin = async (path: string, body: unknown) => {
      const res = await rawRequest(`${base}/admin/v1${path}`, {
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 201, res.body.toString());
    };
    await admin("/tenants", { id: "acme", allow: ["127.0.0.1/32"] });
    await admin("/tenants", { id: "secret-tenant-id", allow: ["127.0.0.1/32"] });
    await admin("/tenants/secret-tenant-id/servers", { name: "s1", url: tenantServer.url });
    secrets.push(tokenKey);
  });
  after(() => procs.stopAll());

  it("walks every path and refusal without a credential: no address, port, other tenant or secret", async () => {
    const answers: Array<{ what: string; text: string }> = [];
    const keep = (what: string, res: RawResponse) =>
      answers.push({ what, text: `${res.status} ${JSON.stringify(res.headers)} ${res.body.toString("utf8")}` });
    const get = async (path: string, headers: Record<string, string> = {}) =>
      keep(`GET ${path}`, await rawRequest(`${base}${path}`, { method: "GET", headers }));
    const post = async (path: string, body: string | Buffer, headers: Record<string, string> = MCP_HEADERS) =>
      keep(`POST ${path}`, await rawRequest(`${base}${path}`, { headers, body }));

    for (const path of [
      "/",
      "/healthz",
      "/readyz",
      "/metrics",
      "/admin/v1",
      "/admin/v1/tenants",
      "/.switchyard/diagnostics/stream",
      "/.well-known/mcp",
      "/.well-known/ai-catalog.json",
      "/.well-known/oauth-protected-resource",
      "/svc/mcp/server-card",
      "/legacy/sse/server-card",
      "/dead/mcp/server-card",
      "/nope/mcp",
      "/svc/mcp",
      "/acme/s1/mcp",
      "/secret-tenant-id/s1/mcp",
    ]) {
      await get(path, { accept: "application/json, text/event-stream" });
    }
    await get("/svc/mcp", { accept: "text/event-stream", "mcp-session-id": "no-such-session" });
    await post("/svc/mcp", "{not json");
    await post("/svc/mcp", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), {
      ...MCP_HEADERS,
      "mcp-session-id": "no-such-session",
    });
    await post("/svc/mcp", Buffer.alloc(5 * 1024 * 1024, 0x20));
    await post("/svc/mcp", JSON.stringify(INIT_BODY), { "content-type": "text/plain", accept: "application/json" });
    await post("/dead/mcp", JSON.stringify(INIT_BODY));
    await post("/legacy/messages?sessionId=no-such-session", JSON.stringify(INIT_BODY));
    await post("/acme/s1/mcp", JSON.stringify(INIT_BODY));
    await post("/secret-tenant-id/s1/mcp", JSON.stringify(INIT_BODY), {
      ...MCP_HEADERS,
      authorization: "Bearer wrong",
    });
    // A session of someone else's, presented by a stranger: created here through the gateway, then asked
    // with a wrong id shape and with a DELETE.
    const init = await rawRequest(`${base}/svc/mcp`, { body: JSON.stringify(INIT_BODY) });
    keep("initialize", init);
    const sid = init.headers["mcp-session-id"] as string;
    const other = `${sid.slice(0, -4)}zzzz`;
    await post("/svc/mcp", JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }), {
      ...MCP_HEADERS,
      "mcp-session-id": other,
    });
    // Malformed HTTP, straight on the socket.
    const { port } = new URL(base);
    for (const raw of [
      "GET /svc/mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST /svc/mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "BREW /svc/mcp HTTP/1.1\r\nHost: x\r\n\r\n",
      `GET /svc/mcp HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    ]) {
      answers.push({ what: raw.slice(0, 30), text: (await exchange(Number(port), raw, { waitMs: 2000 })).raw });
    }

    const forbidden = [
      ...replicas.flatMap((r) => [new URL(r.url).host, `:${new URL(r.url).port}`]),
      "127.0.0.1:9",
      "hidden-tenant-server",
      ...secrets,
    ];
    for (const { what, text } of answers) {
      for (const f of forbidden) assert.ok(!text.includes(f), `${what} names ${f}: ${text.slice(0, 400)}`);
    }
    // Another tenant's id appears only where the asker named it (its own path).
    for (const { what, text } of answers) {
      if (!what.includes("secret-tenant-id")) {
        assert.ok(!text.includes("secret-tenant-id"), `${what} names another tenant: ${text.slice(0, 300)}`);
      }
    }
    assert.ok(answers.length > 30, `${answers.length} answers walked`);
  });
});
