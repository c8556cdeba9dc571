import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { hashId } from "../../src/observability/hash.js";
import { check } from "../helpers/check.js";
import { errorCode, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { connect, connectModern, INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { type AuthServer, CLIENT, scriptedOAuthClient, startAuthServer } from "../helpers/oauth.js";
import {
  type ExampleReplica,
  freePort,
  type GatewayProc,
  owned,
  type Replica,
  startDualEra,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

const PUBLIC = "http://mcp.gateway.test";

/** A secret in a file of its own (as a mounted Secret is). */
function secretFile(secret: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "swy-oauth-")), "secret");
  writeFileSync(file, `${secret}\n`);
  return file;
}
const AUDIENCE = `${PUBLIC}/svc/mcp`;
const METADATA = `${PUBLIC}/.well-known/oauth-protected-resource/svc/mcp`;

describe("OAuth at the gateway: a resource server for its routes, against a real authorization server", () => {
  const procs = owned();
  let as: AuthServer;
  let replica: ExampleReplica;
  let passthrough: ExampleReplica;
  let modern: Replica;
  let exchanged: ExampleReplica;
  let gateway: GatewayProc;
  const bearer = (token: string) => ({ ...MCP_HEADERS, authorization: `Bearer ${token}` });
  const init = (headers: Record<string, string>, path = "svc") =>
    rawRequest(gateway.route(path), { headers, body: JSON.stringify(INIT_BODY) });

  before(async () => {
    [as, replica, passthrough, modern, exchanged] = await Promise.all([
      procs.own(startAuthServer()),
      procs.own(startReplica("protected")),
      procs.own(startReplica("passthrough")),
      procs.own(startDualEra("modern-protected")),
      procs.own(startReplica("exchanged")),
    ]);
    gateway = await procs.own(
      startGateway([
        "--config",
        writeConfig(`logLevel: warn
publicUrl: ${PUBLIC}
auth:
  issuers: [${as.issuer}]
  scopes: [mcp:read]
  tools:
    echo: [mcp:admin]
    "slow*": [mcp:admin]
upstreams:
  svc:
    replicas: [${replica.url}]
  modern:
    replicas: [${modern.url}]
  open:
    replicas: [${replica.url}]
    auth: false
  own:
    replicas: [${passthrough.url}]
    upstreamAuth: passthrough
  keyed:
    replicas: [${exchanged.url}]
    headers:
      Authorization: Bearer the-gateways-own-key
  exchanged:
    replicas: [${exchanged.url}]
    upstreamAuth:
      exchange:
        audience: urn:example:tickets-backend
        clientId: ${CLIENT.id}
        clientSecretFile: ${secretFile(CLIENT.secret)}
  opaque:
    replicas: [${replica.url}]
    auth:
      issuers: [${as.issuer}]
      scopes: [mcp:read]
      introspection:
        clientId: ${CLIENT.id}
        clientSecretFile: ${secretFile(CLIENT.secret)}
virtual:
  fed:
    members: [svc, exchanged]
    auth:
      issuers: [${as.issuer}]
      scopes: [mcp:read]
      tools:
        "*_echo": [mcp:admin]
`),
      ]),
    );
  });
  after(() => procs.stopAll());

  it("publishes the route's Protected Resource Metadata (RFC 9728), for any origin", async () => {
    const res = await fetch(`${gateway.base}/.well-known/oauth-protected-resource/svc/mcp`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.deepEqual(await res.json(), {
      resource: AUDIENCE,
      authorization_servers: [as.issuer],
      scopes_supported: ["mcp:admin", "mcp:read"],
      bearer_methods_supported: ["header"],
    });
    assert.equal((await fetch(`${gateway.base}/.well-known/oauth-protected-resource/open/mcp`)).status, 404);
    // The discovery document says which routes need a token, and where their metadata is.
    const wellKnown = (await (await fetch(`${gateway.base}/.well-known/mcp`)).json()) as {
      servers: Array<{ mcp: { endpoint: string }; auth: Record<string, unknown> }>;
    };
    const entry = (route: string) => wellKnown.servers.find((e) => e.mcp.endpoint.endsWith(`/${route}/mcp`))?.auth;
    assert.deepEqual(entry("svc"), { required: true, type: "oauth2", resourceMetadata: METADATA });
    assert.deepEqual(entry("open"), { required: false });
  });

  it("answers 401 with a challenge that points to the metadata, without a token or with a bad one", async () => {
    const none = await init(MCP_HEADERS);
    assert.equal(none.status, 401);
    assert.equal(none.headers["www-authenticate"], `Bearer resource_metadata="${METADATA}", scope="mcp:read"`);
    assert.equal(errorCode(none).swy, "SWY_AUTH_REQUIRED");
    const good = await as.token(AUDIENCE, "mcp:read");
    const [header, payload, signature] = good.split(".") as [string, string, string];
    const none64 = Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const refused: Record<string, string> = {
      "another audience (a real token, issued for another resource)": await as.token(
        "http://other.test/mcp",
        "mcp:read",
      ),
      expired: await as.mint({ sub: "u1", aud: AUDIENCE, scope: "mcp:read", exp: now - 120, iat: now - 600 }),
      "another issuer": await as.mint({ iss: "http://evil.test", sub: "u1", aud: AUDIENCE, exp: now + 300 }),
      "a bad signature": `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
      "alg none": `${none64}.${payload}.`,
      "no subject": await as.mint({ aud: AUDIENCE, scope: "mcp:read", exp: now + 300 }),
    };
    for (const [why, token] of Object.entries(refused)) {
      const res = await init(bearer(token));
      assert.equal(res.status, 401, why);
      assert.equal(
        res.headers["www-authenticate"],
        `Bearer error="invalid_token", resource_metadata="${METADATA}", scope="mcp:read"`,
        why,
      );
      assert.equal(errorCode(res).swy, "SWY_INVALID_TOKEN", why);
    }
    // A token in the query string is never read (RFC 9700): refused even when valid.
    const query = await rawRequest(`${gateway.route("svc")}?access_token=${good}`, {
      headers: MCP_HEADERS,
      body: JSON.stringify(INIT_BODY),
    });
    assert.equal(query.status, 401);
    assert.equal(errorCode(query).swy, "SWY_INVALID_TOKEN");
    assert.match(String(query.headers["www-authenticate"]), /error="invalid_token"/);
  });

  it("serves an SDK client with a valid token, and never passes the token upstream", async () => {
    const token = await as.token(AUDIENCE, "mcp:read");
    const before = (await replica.seen()).authorization[hashId(`Bearer ${token}`)] ?? 0;
    const client = await connect(gateway.route("svc"), "oauth-client", { authorization: `Bearer ${token}` });
    assert.equal((await client.whoami()).replica, "protected");
    await client.close();
    const seen = await replica.seen();
    assert.equal((seen.authorization[hashId(`Bearer ${token}`)] ?? 0) - before, 0, "the replica never saw the token");
    assert.ok((seen.authorization.none ?? 0) > 0, "it saw requests with no Authorization at all");
  });

  it("sends the gateway's own static credential where the route names one, never the client's", async () => {
    const token = await as.token(`${PUBLIC}/keyed/mcp`, "mcp:read");
    const client = await connect(gateway.route("keyed"), "keyed-client", { authorization: `Bearer ${token}` });
    assert.equal((await client.whoami()).replica, "exchanged");
    await client.close();
    const seen = await exchanged.seen();
    assert.ok((seen.authorization[hashId("Bearer the-gateways-own-key")] ?? 0) > 0, "the route's own credential");
    assert.equal(seen.authorization[hashId(`Bearer ${token}`)] ?? 0, 0, "never the client's token");
  });

  it("passes the token on only where the route says passthrough", async () => {
    const token = await as.token(`${PUBLIC}/own/mcp`, "mcp:read");
    const client = await connect(gateway.route("own"), "passthrough-client", { authorization: `Bearer ${token}` });
    assert.equal((await client.whoami()).replica, "passthrough");
    await client.close();
    assert.ok(((await passthrough.seen()).authorization[hashId(`Bearer ${token}`)] ?? 0) > 0);
  });

  it("sends the upstream a token of its own, by token exchange (RFC 8693), kept until it expires", async () => {
    const token = await as.token(`${PUBLIC}/exchanged/mcp`, "mcp:read");
    const before = await as.exchanges();
    const client = await connect(gateway.route("exchanged"), "exchange-client", { authorization: `Bearer ${token}` });
    for (let i = 0; i < 3; i++) assert.equal((await client.whoami()).replica, "exchanged");
    await client.close();
    const seen = await exchanged.seen();
    assert.equal(seen.authorization[hashId(`Bearer ${token}`)] ?? 0, 0, "never the client's token");
    assert.deepEqual(Object.keys(seen.tokenAudiences), ["urn:example:tickets-backend"], "a token for the upstream");
    assert.equal((await as.exchanges()) - before, 1, "exchanged once, then kept");
  });

  it("a virtual server is a resource server of its own: its token, its scopes across members, each member's own credential", async () => {
    const none = await init(MCP_HEADERS, "fed");
    assert.equal(none.status, 401);
    const fedMetadata = `${PUBLIC}/.well-known/oauth-protected-resource/fed/mcp`;
    assert.match(String(none.headers["www-authenticate"]), new RegExp(`resource_metadata="${fedMetadata}"`));
    const metadata = (await (await fetch(`${gateway.base}/.well-known/oauth-protected-resource/fed/mcp`)).json()) as {
      resource: string;
    };
    assert.equal(metadata.resource, `${PUBLIC}/fed/mcp`);
    // A token for another route does not open the virtual server (audience).
    const forSvc = await as.token(AUDIENCE, "mcp:read");
    assert.equal((await init(bearer(forSvc), "fed")).status, 401);

    const token = await as.token(`${PUBLIC}/fed/mcp`, "mcp:read");
    const beforeSvc = await replica.seen();
    const client = await connect(gateway.route("fed"), "fed-client", { authorization: `Bearer ${token}` });
    const names = (await client.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("svc_whoami") && names.includes("exchanged_whoami"), names.join(", "));
    assert.ok(!names.some((n) => n.endsWith("_echo")), "the list shows only what the token's scopes allow");
    await assert.rejects(
      client.client.callTool({ name: "svc_echo", arguments: { text: "x" } }),
      /SWY_INSUFFICIENT_SCOPE/,
    );
    const who = (await client.client.callTool({ name: "exchanged_whoami", arguments: {} })) as {
      structuredContent?: { replica: string };
    };
    assert.equal(who.structuredContent?.replica, "exchanged");
    await client.close();
    const seen = await exchanged.seen();
    assert.ok(
      Object.keys(seen.tokenAudiences).includes("urn:example:tickets-backend"),
      "the member got a token of its own",
    );
    assert.equal(seen.authorization[hashId(`Bearer ${token}`)] ?? 0, 0, "never the client's token");
    const svcSeen = await replica.seen();
    assert.equal(
      (svcSeen.authorization[hashId(`Bearer ${token}`)] ?? 0) -
        (beforeSvc.authorization[hashId(`Bearer ${token}`)] ?? 0),
      0,
      "nor did the member without a credential of its own",
    );
  });

  it("asks for more scopes with 403 insufficient_scope, naming every scope the call needs", async () => {
    const reader = await as.token(AUDIENCE, "mcp:read");
    const res = await init(bearer(reader));
    const sid = res.headers["mcp-session-id"] as string;
    const call = (token: string) =>
      rawRequest(gateway.route("svc"), {
        headers: { ...sessionHeaders(sid), authorization: `Bearer ${token}` },
        body: rpc("tools/call", { name: "echo", arguments: { text: "hi" } }, 5),
      });
    const denied = await call(reader);
    assert.equal(denied.status, 403);
    assert.equal(
      denied.headers["www-authenticate"],
      `Bearer error="insufficient_scope", resource_metadata="${METADATA}", scope="mcp:admin mcp:read"`,
    );
    assert.equal(errorCode(denied).swy, "SWY_INSUFFICIENT_SCOPE");
    // Step up: a token with both scopes, for the same client (the session's principal), and the call passes.
    const admin = await as.token(AUDIENCE, "mcp:read mcp:admin");
    assert.equal((await call(admin)).status, 200);
  });

  it("lists only the tools the token may call, in both eras", async () => {
    const names = async (route: string, token: string) => {
      if (route === "modern") {
        const client = await connectModern(gateway.route(route), { authorization: `Bearer ${token}` });
        const tools = (await client.listTools()).tools.map((t) => t.name).sort();
        await client.close();
        return tools;
      }
      const client = await connect(gateway.route(route), "lister", { authorization: `Bearer ${token}` });
      const tools = (await client.client.listTools()).tools.map((t) => t.name).sort();
      await client.close();
      return tools;
    };
    const reader = await as.token(AUDIENCE, "mcp:read");
    const admin = await as.token(AUDIENCE, "mcp:read mcp:admin");
    const legacyAll = await names("svc", admin);
    assert.ok(legacyAll.includes("echo") && legacyAll.includes("whoami"), legacyAll.join(","));
    assert.deepEqual(
      await names("svc", reader),
      legacyAll.filter((n) => n !== "echo"),
      "echo needs mcp:admin",
    );
    const modernAudience = `${PUBLIC}/modern/mcp`;
    const modernReader = await as.token(modernAudience, "mcp:read");
    const modernAdmin = await as.token(modernAudience, "mcp:read mcp:admin");
    const modernAll = await names("modern", modernAdmin);
    assert.ok(modernAll.includes("slow"), modernAll.join(","));
    // Asked twice: the second answer could come from the shared list cache, and must be filtered too.
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(
        await names("modern", modernReader),
        modernAll.filter((n) => !n.startsWith("slow")),
      );
      assert.deepEqual(await names("modern", modernAdmin), modernAll);
    }
  });

  it("binds a session to the token's subject: another subject presenting its id gets 404", async () => {
    const token = await as.token(AUDIENCE, "mcp:read");
    const sid = (await init(bearer(token))).headers["mcp-session-id"] as string;
    const now = Math.floor(Date.now() / 1000);
    const other = await as.mint({ sub: "someone-else", aud: AUDIENCE, scope: "mcp:read", exp: now + 300 });
    const res = await rawRequest(gateway.route("svc"), {
      headers: { ...sessionHeaders(sid), authorization: `Bearer ${other}` },
      body: rpc("tools/call", { name: "whoami", arguments: {} }, 6),
    });
    assert.equal(res.status, 404);
    assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND");
  });

  it("follows a signing-key rotation at the issuer (the JWKS is fetched again for a new kid)", async () => {
    assert.equal((await init(bearer(await as.token(AUDIENCE, "mcp:read")))).status, 200);
    await as.rotate();
    const rotated = await as.token(AUDIENCE, "mcp:read");
    await waitFor("a token signed with the new key to pass", async () => (await init(bearer(rotated))).status === 200);
  });

  it("checks opaque tokens by introspection at the issuer, once per token until it expires", async () => {
    const token = await as.token(`${PUBLIC}/opaque/mcp`, "mcp:read");
    assert.equal(token.split(".").length, 1, "an opaque token, not a JWT");
    const before = await as.introspections();
    for (let i = 0; i < 3; i++) assert.equal((await init(bearer(token), "opaque")).status, 200);
    assert.equal((await as.introspections()) - before, 1, "asked once, then remembered");
    const elsewhere = await as.token("http://other.test/opaque/mcp", "mcp:read");
    for (const bad of [elsewhere, "made-up-opaque-token-0123456789"]) {
      const res = await init(bearer(bad), "opaque");
      assert.equal(res.status, 401);
      assert.equal(errorCode(res).swy, "SWY_INVALID_TOKEN");
    }
  });

  it("leaves a route with auth: false open", async () => {
    assert.equal((await init(MCP_HEADERS, "open")).status, 200);
  });
});

describe("OAuth at the gateway: the MCP SDK's own OAuth client, through the whole flow", () => {
  const procs = owned();
  let as: AuthServer;
  let gateway: GatewayProc;

  before(async () => {
    const replica = await procs.own(startReplica("sdk-flow"));
    const modern = await procs.own(startDualEra("sdk-flow-modern"));
    as = await procs.own(startAuthServer());
    const port = await freePort();
    gateway = await procs.own(
      startGateway([
        "--listen",
        `127.0.0.1:${port}`,
        "--config",
        writeConfig(`logLevel: warn
publicUrl: http://127.0.0.1:${port}
upstreams:
  svc:
    replicas: [${replica.url}]
    auth:
      issuers: [${as.issuer}]
      scopes: [mcp:read]
      tools:
        echo: [mcp:admin]
  modern:
    replicas: [${modern.url}]
    auth:
      issuers: [${as.issuer}]
      scopes: [mcp:read]
`),
      ]),
    );
  });
  after(() => procs.stopAll());

  it("modern era (2026-07-28): the SDK v2 client completes the flow and calls a tool", async () => {
    const url = new URL(gateway.route("modern"));
    const oauth = scriptedOAuthClient("bob");
    const provider = oauth.provider as unknown as ConstructorParameters<typeof ModernTransport>[1] extends infer O
      ? O extends { authProvider?: infer P }
        ? P
        : never
      : never;
    const options = { versionNegotiation: { mode: { pin: "2026-07-28" as const } } };
    const first = new ModernTransport(url, { authProvider: provider });
    await assert.rejects(new ModernClient({ name: "oauth-modern", version: "1" }, options).connect(first));
    await first.finishAuth(oauth.code() as string, oauth.iss());
    const token = oauth.tokens()?.access_token as string;
    const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as { aud: string };
    assert.equal(claims.aud, url.href);
    const client = new ModernClient({ name: "oauth-modern", version: "1" }, options);
    await client.connect(new ModernTransport(url, { authProvider: provider }));
    const answer = await client.callTool({ name: "whoami", arguments: {} });
    assert.match(JSON.stringify(answer), /sdk-flow-modern/);
    await client.close();
  });

  it("discovers the metadata from the 401, registers, runs PKCE with the resource, calls tools, and steps up", async () => {
    const url = new URL(gateway.route("svc"));
    const oauth = scriptedOAuthClient("alice");
    const first = new StreamableHTTPClientTransport(url, { authProvider: oauth.provider });
    await assert.rejects(new Client({ name: "oauth-sdk", version: "1" }).connect(first), UnauthorizedError);
    await first.finishAuth(oauth.code() as string);
    const token = oauth.tokens()?.access_token as string;
    const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as Record<
      string,
      unknown
    >;
    assert.equal(claims.aud, url.href, "the token was issued for the route (RFC 8707 resource)");
    assert.equal(claims.sub, "alice");
    const client = new Client({ name: "oauth-sdk", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: oauth.provider }));
    const answer = await client.callTool({ name: "whoami", arguments: {} });
    assert.equal((answer.structuredContent as { replica: string }).replica, "sdk-flow");
    // Step up: echo needs mcp:admin. The 403 names every scope the call needs; the SDK asks the user for
    // them, and the call passes with the new token, in the same session (the same subject).
    const transport = client.transport as StreamableHTTPClientTransport;
    const session = transport.sessionId;
    await assert.rejects(client.callTool({ name: "echo", arguments: { text: "hi" } }), UnauthorizedError);
    await transport.finishAuth(oauth.code() as string);
    const upscoped = oauth.tokens()?.access_token as string;
    const scopes = (
      JSON.parse(Buffer.from(upscoped.split(".")[1] as string, "base64url").toString()) as { scope: string }
    ).scope;
    assert.deepEqual(scopes.split(" ").sort(), ["mcp:admin", "mcp:read"]);
    const echoed = await client.callTool({ name: "echo", arguments: { text: "hi" } });
    assert.deepEqual(echoed.content, [{ type: "text", text: "hi" }]);
    assert.equal(transport.sessionId, session, "the same session");
    await client.close();
  });
});

describe("switchyard check on a protected route", () => {
  const procs = owned();

  it("passes the metadata and both challenges, and audits the sessions with a token; fails a forged metadata", async () => {
    const replica = await procs.own(startReplica("checked"));
    const as = await procs.own(startAuthServer());
    const port = await freePort();
    const config = (publicUrl: string) =>
      writeConfig(`logLevel: warn
publicUrl: ${publicUrl}
auth:
  issuers: [${as.issuer}]
upstreams:
  svc:
    replicas: [${replica.url}]
`);
    const gateway = await procs.own(
      startGateway(["--listen", `127.0.0.1:${port}`, "--config", config(`http://127.0.0.1:${port}`)]),
    );
    const url = gateway.route("svc");
    // One protected route on this host: its metadata is also the host's root document.
    const root = (await (await fetch(`${gateway.base}/.well-known/oauth-protected-resource`)).json()) as {
      resource: string;
    };
    assert.equal(root.resource, url);
    const token = await as.token(url, "mcp:read");
    const r = await check([url, "--header", `Authorization: Bearer ${token}`, "--repeat", "3"]);
    assert.equal(r.status("oauth"), "pass", r.problems());
    assert.equal(r.status("session.id"), "pass", r.problems());
    // A gateway whose public URL is not the one clients use: its metadata names another resource.
    const other = await freePort();
    const wrong = await procs.own(
      startGateway(["--listen", `127.0.0.1:${other}`, "--config", config("http://elsewhere.test")]),
    );
    const w = await check([wrong.route("svc")]);
    assert.equal(w.status("oauth"), "fail", "the metadata is at a host clients cannot reach");
    assert.equal(w.status("reach"), "absent", "the other checks still ran");
    await procs.stopAll();
  });
});

describe("OAuth through two gateways sharing Redis, with signed session ids", () => {
  const procs = owned();
  let as: AuthServer;
  let gateways: GatewayProc[];

  before(async () => {
    const [replica, redis] = await Promise.all([procs.own(startReplica("shared-oauth")), procs.own(startRedis())]);
    as = await procs.own(startAuthServer());
    const config = writeConfig(`logLevel: warn
publicUrl: ${PUBLIC}
affinity: token
tokens:
  keys: [{ id: 1, secret: ${randomBytes(32).toString("base64")} }]
store:
  url: ${redis.url}
auth:
  issuers: [${as.issuer}]
  scopes: [mcp:read]
upstreams:
  svc:
    replicas: [${replica.url}]
`);
    gateways = await Promise.all([1, 2].map(() => procs.own(startGateway(["--config", config]))));
  });
  after(() => procs.stopAll());

  it("a session made on one gateway serves its subject on the other, and no one else", async () => {
    const [g1, g2] = gateways as [GatewayProc, GatewayProc];
    const token = await as.token(AUDIENCE, "mcp:read");
    const created = await rawRequest(g1.route("svc"), {
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
      body: JSON.stringify(INIT_BODY),
    });
    const sid = created.headers["mcp-session-id"] as string;
    const call = (gateway: GatewayProc, bearer: string) =>
      rawRequest(gateway.route("svc"), {
        headers: { ...sessionHeaders(sid), authorization: `Bearer ${bearer}` },
        body: rpc("tools/call", { name: "whoami", arguments: {} }, 2),
      });
    assert.equal((await call(g2, token)).status, 200, "the same subject, through the other gateway");
    const now = Math.floor(Date.now() / 1000);
    const other = await as.mint({ sub: "mallory", aud: AUDIENCE, scope: "mcp:read", exp: now + 300 });
    for (const g of gateways) {
      const res = await call(g, other);
      assert.equal(res.status, 404, "another subject presenting the signed id");
      assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND");
    }
  });
});
