import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { errorCode, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { connect, INIT_BODY, is404 } from "../helpers/mcp.js";
import { type Replica, startReplica } from "../helpers/procs.js";
import { openSse } from "../helpers/sse.js";
import { bearer, initialize, tenantGateway } from "../helpers/tenants.js";
import { type FixtureServer, startFixture } from "../helpers/upstream.js";

const UPSTREAM_SECRET = "upstream-secret-Q7x2";

describe("tenants: keys, isolation, credentials, JWT, sessions", () => {
  let a: Replica;
  let b: Replica;
  let echo: FixtureServer;
  let jwks: Server;
  let jwksUrl: string;
  let signingKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  const seen: IncomingHttpHeaders[] = [];
  let gw: Awaited<ReturnType<typeof tenantGateway>>;
  let acmeKey: string;
  let globexKey: string;

  before(async () => {
    [a, b] = await Promise.all([startReplica("acme-replica"), startReplica("globex-replica")]);
    // An upstream that shows what it receives: the gateway credential must never be among it.
    echo = await startFixture((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "echo-session-1" });
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "echo", version: "1" } },
        }),
      );
    });
    const pair = await generateKeyPair("ES256");
    signingKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    gw = await tenantGateway(
      `tenants:\n  jwt:\n    jwks: ${jwksUrl}\n    issuer: https://idp.example\n    audience: switchyard\n`,
    );
    acmeKey = await gw.tenant("acme");
    globexKey = await gw.tenant("globex");
    await gw.server("acme", "s1", a.url, { authorization: `Bearer ${UPSTREAM_SECRET}` });
    await gw.server("acme", "echo", echo.url, { authorization: `Bearer ${UPSTREAM_SECRET}`, "x-tenant-id": "acme" });
    await gw.server("globex", "s1", b.url);
  });
  after(async () => {
    await gw?.gateway.stop();
    await Promise.all([a?.stop(), b?.stop(), echo?.close()]);
    jwks?.close();
  });

  const url = (tenant: string, server: string) => `${gw.gateway.base}/${tenant}/${server}/mcp`;

  it("answers 401 with WWW-Authenticate without a credential or with a wrong one", async () => {
    const none = await initialize(url("acme", "s1"), {});
    assert.equal(none.status, 401);
    assert.equal(errorCode(none).swy, "SWY_UNAUTHORIZED");
    assert.equal(none.headers["www-authenticate"], 'Bearer realm="switchyard"');
    for (const headers of [
      bearer("swy_not-a-real-key-0123456789012345678901234567"),
      { "x-api-key": "nope" },
      bearer("a.b.c"),
    ]) {
      const res = await initialize(url("acme", "s1"), headers);
      assert.equal(res.status, 401);
      assert.match(String(res.headers["www-authenticate"]), /error="invalid_token"/);
    }
    // Strangers learn nothing about which servers exist: an unknown server is 401 too.
    assert.equal((await initialize(url("acme", "nope"), {})).status, 401);
  });

  it("serves a tenant's own servers to its key (Bearer or X-Api-Key), never another tenant's", async () => {
    const session = await connect(url("acme", "s1"), "acme-client", bearer(acmeKey));
    assert.equal((await session.whoami()).replica, "acme-replica");
    await session.close();
    const viaHeader = await connect(url("globex", "s1"), "globex-client", { "x-api-key": globexKey });
    assert.equal((await viaHeader.whoami()).replica, "globex-replica");
    await viaHeader.close();
    const crossed = await initialize(url("globex", "s1"), bearer(acmeKey));
    assert.equal(crossed.status, 403);
    assert.equal(errorCode(crossed).swy, "SWY_TENANT_FORBIDDEN");
    const unknown = await initialize(url("acme", "nope"), bearer(acmeKey));
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown).swy, "SWY_ROUTE_NOT_FOUND");
  });

  it("binds a session to the key that opened it: another key of the same tenant gets 404", async () => {
    const secondKey = (await gw.admin("POST", "/tenants/acme/keys")).json().key as string;
    const session = await connect(url("acme", "s1"), "owner", bearer(acmeKey));
    const sid = session.transport.sessionId as string;
    const stolen = await rawRequest(url("acme", "s1"), {
      headers: { ...sessionHeaders(sid), ...bearer(secondKey) },
      body: rpc("tools/call", { name: "whoami", arguments: {} }),
    });
    assert.equal(stolen.status, 404);
    assert.equal(errorCode(stolen).swy, "SWY_SESSION_NOT_FOUND");
    assert.equal((await session.whoami()).sessionCalls, 1, "the owner's session is untouched");
    await session.close();
  });

  it("never forwards the gateway credential: the server's own upstream headers go instead", async () => {
    seen.length = 0;
    const res = await initialize(url("acme", "echo"), {
      ...bearer(acmeKey),
      "x-api-key": acmeKey,
      cookie: "gateway-session=COOKIE-SECRET",
      "x-client-trace": "kept",
    });
    assert.equal(res.status, 200);
    const got = seen[0] as IncomingHttpHeaders;
    assert.equal(got.authorization, `Bearer ${UPSTREAM_SECRET}`);
    assert.equal(got["x-tenant-id"], "acme");
    assert.equal(got["x-api-key"], undefined);
    assert.equal(got.cookie, undefined);
    assert.equal(got["x-client-trace"], "kept", "other end-to-end headers still pass");
    assert.ok(!JSON.stringify(got).includes(acmeKey), "the key appears nowhere upstream");
    // The upstream headers are secrets: listed by name only.
    const listed = (await gw.admin("GET", "/tenants/acme/servers/echo")).json();
    assert.deepEqual(listed.headers.sort(), ["authorization", "x-tenant-id"]);
    assert.ok(!JSON.stringify(listed).includes(UPSTREAM_SECRET));
  });

  const jwt = (claims: Record<string, unknown>, audience = "switchyard", expires = "5m") =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("https://idp.example")
      .setAudience(audience)
      .setSubject(String(claims.sub ?? "alice"))
      .setIssuedAt()
      .setExpirationTime(expires)
      .sign(signingKey);

  it("accepts a JWT from the configured issuer for this audience, naming the tenant in a claim", async () => {
    const token = await jwt({ tenant: "acme", sub: "alice" });
    const session = await connect(url("acme", "s1"), "jwt-client", bearer(token));
    assert.equal((await session.whoami()).replica, "acme-replica");
    const sid = session.transport.sessionId as string;
    const bob = await jwt({ tenant: "acme", sub: "bob" });
    const asBob = await rawRequest(url("acme", "s1"), {
      headers: { ...sessionHeaders(sid), ...bearer(bob) },
      body: rpc("tools/call", { name: "whoami", arguments: {} }),
    });
    assert.equal(asBob.status, 404, "another subject does not get alice's session");
    await session.close();
    assert.equal((await initialize(url("globex", "s1"), bearer(token))).status, 403, "acme's token at globex");
    for (const bad of [
      await jwt({ tenant: "acme" }, "another-audience"),
      await jwt({ tenant: "acme" }, "switchyard", "1s ago"),
      await jwt({ sub: "no-tenant-claim" }),
    ]) {
      const res = await initialize(url("acme", "s1"), bearer(bad));
      assert.equal(res.status, 401);
      assert.equal(errorCode(res).swy, "SWY_UNAUTHORIZED");
    }
  });

  it("lists a tenant's sessions by hash, and a revoked one is refused (404) at once", async () => {
    const session = await connect(url("globex", "s1"), "listed", bearer(globexKey));
    const sid = session.transport.sessionId as string;
    const listed = (await gw.admin("GET", "/tenants/globex/sessions")).json().sessions as Array<
      Record<string, unknown>
    >;
    assert.ok(listed.length >= 1);
    assert.ok(!JSON.stringify(listed).includes(sid), "never the raw session id");
    const entry = listed.find((s) => s.server === "s1") as Record<string, unknown>;
    assert.equal(entry.replica, b.url);
    assert.equal(typeof entry.ageSeconds, "number");
    assert.equal(
      (await gw.admin("GET", "/tenants/acme/sessions")).json().sessions.some((s: { id: unknown }) => s.id === entry.id),
      false,
      "per tenant",
    );
    await session.whoami();
    for (const s of listed) assert.equal((await gw.admin("DELETE", `/tenants/globex/sessions/${s.id}`)).status, 200);
    await assert.rejects(session.whoami(), (err) => is404(err) || /404/.test(String(err)));
    assert.equal((await gw.admin("GET", "/tenants/globex/sessions")).json().sessions.length, 0);
    assert.equal((await gw.admin("DELETE", `/tenants/globex/sessions/${entry.id}`)).status, 404);
  });

  it("serves a tenant's HTTP+SSE server with the same credentials, announcing the tenant's message URL", async () => {
    await gw.server("acme", "legacy", a.sseUrl);
    const res = await gw.admin("PUT", "/tenants/acme/servers/legacy", { url: a.sseUrl, transport: "sse" });
    assert.equal(res.status, 200);
    const sseUrl = `${gw.gateway.base}/acme/legacy/sse`;
    const refused = await rawRequest(sseUrl, { method: "GET", headers: { accept: "text/event-stream" } });
    assert.equal(refused.status, 401);
    const stream = await openSse(sseUrl, { headers: { accept: "text/event-stream", ...bearer(acmeKey) } });
    const endpoint = (await stream.next((e) => e.event === "endpoint")).data;
    assert.match(endpoint, /\/acme\/legacy\/messages\?sessionId=/);
    const post = (body: string, headers: Record<string, string>) =>
      rawRequest(endpoint, { headers: { "content-type": "application/json", ...headers }, body });
    assert.equal((await post(JSON.stringify(INIT_BODY), {})).status, 401, "every message needs the credential");
    assert.equal((await post(JSON.stringify(INIT_BODY), bearer(globexKey))).status, 403);
    assert.equal((await post(JSON.stringify(INIT_BODY), bearer(acmeKey))).status, 202);
    const answer = await stream.next((e) => e.event === "message");
    assert.match(answer.data, /switchyard-example/);
    const listed = (await gw.admin("GET", "/tenants/acme/sessions")).json().sessions;
    assert.ok(
      listed.some((s: { transport: string; server: string }) => s.transport === "sse" && s.server === "legacy"),
    );
    stream.close();
  });

  it("keeps tenants, keys and servers across a restart (embedded store)", async () => {
    const dataDir = gw.dataDir;
    await gw.gateway.stop();
    gw = await tenantGateway(
      `tenants:\n  jwt:\n    jwks: ${jwksUrl}\n    issuer: https://idp.example\n    audience: switchyard\n`,
      dataDir,
    );
    const session = await connect(url("acme", "s1"), "after-restart", bearer(acmeKey));
    assert.equal((await session.whoami()).replica, "acme-replica");
    await session.close();
  });
});
