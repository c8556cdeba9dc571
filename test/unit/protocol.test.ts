import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classify } from "../../src/protocol/classify.js";
import { accepts, isJsonContentType, isValidSessionId } from "../../src/protocol/headers.js";
import { parseBody } from "../../src/protocol/jsonrpc.js";

function messages(body: unknown) {
  const parsed = parseBody(JSON.stringify(body));
  assert.ok(parsed.ok);
  return parsed.messages;
}

describe("parseBody", () => {
  it("tells requests, notifications and responses apart", () => {
    assert.deepEqual(
      messages({ jsonrpc: "2.0", id: 1, method: "tools/list" }).map((m) => m.kind),
      ["request"],
    );
    assert.deepEqual(
      messages({ jsonrpc: "2.0", method: "notifications/initialized" }).map((m) => m.kind),
      ["notification"],
    );
    assert.deepEqual(
      messages({ jsonrpc: "2.0", id: "a", result: {} }).map((m) => m.kind),
      ["response"],
    );
    assert.deepEqual(
      messages([
        { jsonrpc: "2.0", id: 1, method: "a" },
        { jsonrpc: "2.0", method: "b" },
      ]).map((m) => m.kind),
      ["request", "notification"],
    );
  });

  it("refuses what is not JSON, and what is not JSON-RPC 2.0", () => {
    assert.deepEqual(parseBody("{"), { ok: false, reason: "parse", id: null });
    assert.deepEqual(parseBody('{"jsonrpc":"1.0","id":3,"method":"x"}'), { ok: false, reason: "invalid", id: 3 });
    assert.equal(parseBody("[]").ok, false);
    assert.equal(parseBody('{"jsonrpc":"2.0","id":{},"method":"x"}').ok, false);
    assert.equal(parseBody('{"jsonrpc":"2.0","id":1,"method":"x","params":5}').ok, false);
    assert.equal(parseBody('[{"jsonrpc":"2.0","id":1,"method":"x"}, 7]').ok, false);
    assert.equal(parseBody("null").ok, false);
  });
});

describe("classify", () => {
  it("sees a legacy initialize", () => {
    const c = classify("POST", {}, messages({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }));
    assert.equal(c.initialize, true);
    assert.equal(c.era, "legacy");
    assert.equal(c.rpcId, 1);
    assert.equal(c.sessionId, undefined);
  });

  it("sees a session's request, its tool and version", () => {
    const c = classify(
      "POST",
      { "mcp-session-id": "s1", "mcp-protocol-version": "2025-06-18" },
      messages({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "whoami" } }),
    );
    assert.equal(c.era, "legacy");
    assert.equal(c.sessionId, "s1");
    assert.equal(c.toolName, "whoami");
    assert.equal(c.protocolVersion, "2025-06-18");
    assert.equal(c.initialize, false);
  });

  it("sees the modern era by version header, Mcp-Method or _meta", () => {
    const call = messages({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    assert.equal(classify("POST", { "mcp-protocol-version": "2026-07-28" }, call).era, "modern");
    assert.equal(classify("POST", { "mcp-method": "tools/list" }, call).era, "modern");
    const meta = messages({
      jsonrpc: "2.0",
      id: 1,
      method: "server/discover",
      params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } },
    });
    const c = classify("POST", {}, meta);
    assert.equal(c.era, "modern");
    assert.equal(c.protocolVersion, "2026-07-28");
  });

  it("marks bodies that only notify (answered 202)", () => {
    assert.equal(classify("POST", {}, messages({ jsonrpc: "2.0", method: "notifications/x" })).onlyNotifications, true);
    assert.equal(classify("POST", {}, messages({ jsonrpc: "2.0", id: 1, method: "x" })).onlyNotifications, false);
  });

  it("does not take an initialize inside a batch as a session opener", () => {
    const batch = messages([
      { jsonrpc: "2.0", id: 1, method: "initialize" },
      { jsonrpc: "2.0", id: 2, method: "ping" },
    ]);
    assert.equal(classify("POST", {}, batch).initialize, false);
  });
});

describe("MCP header values", () => {
  it("accepts session ids of 1-256 visible ASCII characters only", () => {
    assert.ok(isValidSessionId("a"));
    assert.ok(isValidSessionId("!~".repeat(128)));
    assert.ok(!isValidSessionId(""));
    assert.ok(!isValidSessionId("a".repeat(257)));
    assert.ok(!isValidSessionId("a b"));
    assert.ok(!isValidSessionId("tab\there"));
    assert.ok(!isValidSessionId("é"));
  });

  it("reads Accept with wildcards and q=0", () => {
    assert.ok(accepts("application/json, text/event-stream", "text/event-stream"));
    assert.ok(accepts("*/*", "application/json"));
    assert.ok(accepts("text/*", "text/event-stream"));
    assert.ok(accepts(undefined, "application/json"));
    assert.ok(!accepts("text/html", "application/json"));
    assert.ok(!accepts("application/json;q=0, text/html", "application/json"));
  });

  it("recognises JSON content types", () => {
    assert.ok(isJsonContentType("application/json"));
    assert.ok(isJsonContentType("application/json; charset=utf-8"));
    assert.ok(isJsonContentType("Application/JSON"));
    assert.ok(!isJsonContentType("text/plain"));
    assert.ok(!isJsonContentType(undefined));
  });
});
