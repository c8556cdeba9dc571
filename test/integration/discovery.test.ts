import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { rawRequest } from "../helpers/http.js";
import {
  type GatewayProc,
  type Replica,
  ROOT,
  startAll,
  startDualEra,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { startFixture } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait.js";

const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const schema = (name: string) => JSON.parse(readFileSync(`${ROOT}/docs/schemas/${name}`, "utf8"));
const validCard = ajv.compile(schema("server-card.schema.json"));
const validWellKnown = ajv.compile(schema("well-known-mcp.schema.json"));
const validCatalog = ajv.compile(schema("ai-catalog.schema.json"));

function assertValid(validate: ReturnType<typeof ajv.compile>, doc: unknown, what: string): void {
  assert.ok(validate(doc), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(doc, null, 2)}`);
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await rawRequest(url, { method: "GET", headers });
  return { ...res, json: res.status === 200 ? JSON.parse(res.body.toString()) : undefined };
}

describe("discovery documents", () => {
  let tickets: Replica;
  let legacy: Replica;
  let gateway: GatewayProc;
  let internal: string[];

  before(async () => {
    [tickets, legacy] = (await startAll<Replica>([startDualEra("tickets-1"), startReplica("legacy-1")])) as [
      Replica,
      Replica,
    ];
    internal = [tickets.url, legacy.sseUrl].map((u) => `:${new URL(u).port}`);
    gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
upstreams:
  tickets:
    replicas: [${tickets.url}]
    discovery:
      title: Tickets
      provider: { name: Example Corp, url: "https://example.com" }
      websiteUrl: https://example.com/tickets
      repository: { url: "https://github.com/example/tickets", source: github }
      icons: [{ src: "https://example.com/icon.png", mimeType: image/png, sizes: [48x48] }]
      headers: [{ name: X-Api-Key, description: Your key, isRequired: true, isSecret: true }]
      tools: true
  legacy:
    replicas: [sse+${legacy.sseUrl}]
    discovery:
      name: com.example/legacy
      description: An older server on the HTTP+SSE transport
health:
  interval: 200ms
  unhealthyThreshold: 1
`),
    ]);
    // The upstream's own answers are fetched in the background at start (the first test asserts them).
    await waitFor(
      "the gateway to learn the tickets upstream's serverInfo",
      async () => (await get(`${gateway.base}/tickets/mcp/server-card`)).json?.version === "1.0.0",
    ).catch(() => {});
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all([tickets?.stop(), legacy?.stop()]);
  });

  it("serves a valid Server Card per route, from configuration and what the upstream says", async () => {
    const res = await get(`${gateway.base}/tickets/mcp/server-card`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/mcp-server-card+json");
    assert.equal(res.headers["cache-control"], "public, max-age=3600");
    const card = res.json;
    assertValid(validCard, card, "tickets card");
    assert.equal(card.name, "local.switchyard/tickets");
    assert.equal(card.title, "Tickets");
    assert.equal(card.version, "1.0.0", "from the upstream's serverInfo");
    assert.deepEqual(card.remotes, [
      {
        type: "streamable-http",
        url: `${gateway.base}/tickets/mcp`,
        headers: [{ name: "X-Api-Key", description: "Your key", isRequired: true, isSecret: true }],
        supportedProtocolVersions: ["2025-11-25", "2026-07-28"],
      },
    ]);
    const sse = await get(`${gateway.base}/legacy/sse/server-card`);
    assertValid(validCard, sse.json, "legacy card");
    assert.equal(sse.json.name, "com.example/legacy");
    assert.equal(sse.json.remotes[0].type, "sse");
    assert.equal(sse.json.remotes[0].url, `${gateway.base}/legacy/sse`);
  });

  it("serves /.well-known/mcp with one entry per route, tools where asked for", async () => {
    const res = await get(`${gateway.base}/.well-known/mcp`);
    assert.equal(res.headers["content-type"], "application/json");
    assert.equal(res.headers["cache-control"], "public, max-age=300");
    assertValid(validWellKnown, res.json, "well-known");
    const [t, l] = res.json.servers;
    assert.equal(t.name, "Tickets");
    assert.deepEqual(t.provider, { name: "Example Corp", url: "https://example.com" });
    assert.deepEqual(t.mcp, {
      transport: "streamable-http",
      endpoint: `${gateway.base}/tickets/mcp`,
      protocolVersions: ["2025-11-25", "2026-07-28"],
    });
    assert.deepEqual(t.auth, { required: false });
    assert.ok(t.tools.includes("whoami"), "tool names, as the proposal lists them");
    assert.equal(l.mcp.transport, "sse");
    assert.equal(l.tools, undefined, "tools only where configured");
  });

  it("serves the AI catalog listing every card", async () => {
    const res = await get(`${gateway.base}/.well-known/ai-catalog.json`);
    assert.equal(res.headers["content-type"], "application/ai-catalog+json");
    assertValid(validCatalog, res.json, "ai catalog");
    assert.deepEqual(
      res.json.entries.map((e: { identifier: string }) => e.identifier),
      ["urn:air:switchyard.local:mcp:tickets", "urn:air:example.com:mcp:legacy"],
    );
    const urls = res.json.entries.map((e: { url: string }) => e.url);
    assert.deepEqual(urls, [`${gateway.base}/tickets/mcp/server-card`, `${gateway.base}/legacy/sse/server-card`]);
    for (const url of urls) assert.equal((await get(url)).status, 200);
  });

  it("answers If-None-Match with 304, HEAD without a body, OPTIONS for CORS, all without authentication", async () => {
    for (const path of ["/.well-known/mcp", "/.well-known/ai-catalog.json", "/tickets/mcp/server-card"]) {
      const first = await get(`${gateway.base}${path}`, { origin: "https://elsewhere.example" });
      assert.equal(first.headers["access-control-allow-origin"], "*");
      const etag = first.headers.etag as string;
      assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
      const again = await get(`${gateway.base}${path}`, { "if-none-match": etag });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      const head = await rawRequest(`${gateway.base}${path}`, { method: "HEAD", headers: {} });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers.etag, etag);
      const preflight = await rawRequest(`${gateway.base}${path}`, {
        method: "OPTIONS",
        headers: { origin: "https://x.example", "access-control-request-method": "GET" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers["access-control-allow-origin"], "*");
    }
  });

  it("never shows an internal address, and uses the public URL when one is configured", async () => {
    for (const path of [
      "/.well-known/mcp",
      "/.well-known/ai-catalog.json",
      "/tickets/mcp/server-card",
      "/legacy/sse/server-card",
    ]) {
      const text = (await get(`${gateway.base}${path}`)).body.toString();
      for (const port of internal) assert.ok(!text.includes(port), `${path} must not show ${port}`);
    }
    const pub = await startGateway([
      "--config",
      writeConfig(
        `logLevel: warn\npublicUrl: https://mcp.example.com\nupstreams:\n  tickets:\n    replicas: [${tickets.url}]\n`,
      ),
    ]);
    try {
      const doc = (await get(`${pub.base}/.well-known/mcp`)).json;
      assert.equal(doc.mcp.endpoint, "https://mcp.example.com/tickets/mcp", "one route: the server itself");
      const card = (await get(`${pub.base}/tickets/mcp/server-card`)).json;
      assert.equal(card.name, "com.example.mcp/tickets");
      assertValid(validCard, card, "public card");
    } finally {
      await pub.stop();
    }
  });

  it("still has a document, marked unavailable, when a route's upstreams are all down", async () => {
    await legacy.stop("SIGKILL");
    // Marked down by the next failed health check (200 ms interval, one failure).
    let entry: { status: string } | undefined;
    await waitFor("the legacy route to be marked unavailable", async () => {
      entry = (await get(`${gateway.base}/.well-known/mcp`)).json.servers[1];
      return entry?.status === "unavailable";
    }).catch(() => {});
    assert.equal(entry?.status, "unavailable");
    const card = await get(`${gateway.base}/legacy/sse/server-card`);
    assert.equal(card.status, 200);
    assert.equal(card.json._meta["io.switchyard/status"], "unavailable");
    assertValid(validCard, card.json, "card of a route that is down");
  });
});

describe("discovery documents right after a start: never a placeholder under a long cache lifetime", () => {
  it("waits a moment for the upstream's first description, and serves an incomplete document only briefly", async () => {
    const replica = await startDualEra("fresh-1");
    // An upstream that is up (its health check passes) and never describes itself.
    const silent = await startFixture((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end("{}");
    });
    const gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
upstreams:
  fresh:
    replicas: [${replica.url}]
  silent:
    replicas: [${silent.url}]
`),
    ]);
    try {
      // The very first request, as soon as the gateway listens.
      const card = await get(`${gateway.base}/fresh/mcp/server-card`);
      assert.equal(card.json?.version, "1.0.0", "the upstream's own version, not a placeholder");
      assert.equal(card.headers["cache-control"], "public, max-age=3600");
      const unknown = await get(`${gateway.base}/silent/mcp/server-card`);
      assert.equal(unknown.status, 200);
      assert.equal(unknown.headers["cache-control"], "public, max-age=10", "incomplete: kept briefly");
    } finally {
      await gateway.stop();
      await replica.stop();
      await silent.close();
    }
  });
});
