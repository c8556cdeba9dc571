import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  aiCatalog,
  catalogIdentifier,
  type RouteView,
  serverCard,
  serverName,
  wellKnown,
} from "../../src/discovery/documents.js";

function view(extra: Partial<RouteView> = {}): RouteView {
  return {
    route: "tickets",
    transport: "streamable-http",
    discovery: { headers: [], tools: true },
    info: {
      serverInfo: {
        name: "tickets-server",
        title: "Tickets at http://10.0.0.5:3000",
        version: "2.1.0",
        description: "Manage tickets",
      },
      protocolVersions: ["2025-11-25"],
      capabilities: {},
      tools: [{ name: "open", description: "Opens one; see http://10.0.0.5:3000/docs" }],
      fetchedAt: 0,
    },
    available: true,
    internal: ["10.0.0.5:3000", "10.0.0.5"],
    oauthMetadata: undefined,
    ...extra,
  };
}

describe("discovery documents", () => {
  it("drop whatever the upstream said that names one of its addresses", () => {
    const text = JSON.stringify([
      serverCard("https://mcp.example.com", view()),
      wellKnown("https://mcp.example.com", [view()]),
      aiCatalog("https://mcp.example.com", [view()]),
    ]);
    assert.ok(!text.includes("10.0.0.5"), text);
    const card = serverCard("https://mcp.example.com", view());
    assert.equal(card.title, undefined, "the title named an internal address");
    assert.equal(card.version, "2.1.0");
    assert.equal(card.description, "Manage tickets");
  });

  it("derive a reverse-DNS name from the public host, or use the configured one", () => {
    assert.equal(serverName("https://mcp.example.com", view()), "com.example.mcp/tickets");
    assert.equal(serverName("http://127.0.0.1:8080", view()), "local.switchyard/tickets");
    assert.equal(serverName("http://localhost:8080", view()), "local.switchyard/tickets");
    const named = view({ discovery: { headers: [], tools: false, name: "com.acme/t" } });
    assert.equal(serverName("https://mcp.example.com", named), "com.acme/t");
    assert.equal(catalogIdentifier("com.example/weather"), "urn:air:example.com:mcp:weather");
  });

  it("describe a route whose upstream never answered from configuration alone", () => {
    const card = serverCard("https://h.example", view({ info: undefined, available: false }));
    assert.equal(card.version, "0.0.0");
    assert.match(String(card.description), /tickets/);
    assert.deepEqual(card._meta, { "io.switchyard/status": "unavailable" });
  });
});
