import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ListCache } from "../../src/cache/list-cache.js";
import { cacheDirective, cacheKey } from "../../src/protocol/cacheable.js";
import type { RpcMessage } from "../../src/protocol/jsonrpc.js";
import { decodeHeaderValue, routingHeaderMismatch } from "../../src/protocol/routing-headers.js";

const META = (extra: Record<string, unknown> = {}) => ({
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "c", version: "1" },
  ...extra,
});

function request(method: string, params: Record<string, unknown> = {}): RpcMessage {
  return { kind: "request", id: 1, method, params: { ...params, _meta: META() } };
}

describe("modern routing headers", () => {
  const call = request("tools/call", { name: "wëather", arguments: {} });
  const ok = {
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": `=?base64?${Buffer.from("wëather").toString("base64")}?=`,
  };

  it("accept headers that match the body, Mcp-Name in its base64 form included", () => {
    assert.equal(routingHeaderMismatch(ok, call), undefined);
    assert.equal(routingHeaderMismatch({ ...ok, "mcp-name": "x" }, request("tools/call", { name: "x" })), undefined);
    const list = request("tools/list");
    assert.equal(
      routingHeaderMismatch({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }, list),
      undefined,
    );
    const read = request("resources/read", { uri: "file:///a" });
    assert.equal(
      routingHeaderMismatch({ ...ok, "mcp-method": "resources/read", "mcp-name": "file:///a" }, read),
      undefined,
    );
  });

  it("name each mismatch and each missing required header", () => {
    assert.match(
      String(routingHeaderMismatch({ ...ok, "mcp-protocol-version": "2025-11-25" }, call)),
      /Protocol-Version/,
    );
    assert.match(String(routingHeaderMismatch({ ...ok, "mcp-method": "tools/list" }, call)), /Mcp-Method/);
    assert.match(String(routingHeaderMismatch({ ...ok, "mcp-name": "weather" }, call)), /Mcp-Name/);
    const { "mcp-name": _, ...noName } = ok;
    assert.match(String(routingHeaderMismatch(noName, call)), /Mcp-Name is missing/);
    const { "mcp-method": __, ...noMethod } = ok;
    assert.match(String(routingHeaderMismatch(noMethod, call)), /Mcp-Method is missing/);
    const { "mcp-protocol-version": ___, ...noVersion } = ok;
    assert.match(String(routingHeaderMismatch(noVersion, call)), /Protocol-Version is missing/);
  });

  it("decode the base64 sentinel form, and refuse what is not UTF-8", () => {
    assert.equal(decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?="), "Hello, 世界");
    assert.equal(decodeHeaderValue("plain"), "plain");
    assert.equal(decodeHeaderValue("=?base64?//79?="), undefined);
  });
});

describe("list-result cache", () => {
  it("keys a question by method, params, version and capabilities, not by client info", () => {
    const a = request("tools/list", { cursor: "c1" });
    const b: RpcMessage = {
      ...a,
      id: 9,
      params: { cursor: "c1", _meta: META({ "io.modelcontextprotocol/clientInfo": { name: "other" } }) },
    };
    assert.equal(cacheKey(a), cacheKey(b));
    assert.notEqual(cacheKey(a), cacheKey(request("tools/list", { cursor: "c2" })));
    assert.notEqual(cacheKey(a), cacheKey(request("prompts/list", { cursor: "c1" })));
    const caps: RpcMessage = {
      ...a,
      params: { cursor: "c1", _meta: META({ "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } }) },
    };
    assert.notEqual(cacheKey(a), cacheKey(caps));
  });

  it("keeps only answers with a positive ttlMs and a known scope", () => {
    assert.deepEqual(cacheDirective({ tools: [], ttlMs: 5000, cacheScope: "public" }), {
      ttlMs: 5000,
      scope: "public",
    });
    assert.deepEqual(cacheDirective({ ttlMs: 1, cacheScope: "private" }), { ttlMs: 1, scope: "private" });
    for (const r of [
      { ttlMs: 0, cacheScope: "public" },
      { ttlMs: 5 },
      { ttlMs: 5, cacheScope: "shared" },
      { ttlMs: "5", cacheScope: "public" },
      null,
    ]) {
      assert.equal(cacheDirective(r), undefined, JSON.stringify(r));
    }
  });

  it("expires entries, and evicts the least recently used past its entry and byte bounds", () => {
    let now = 0;
    const cache = new ListCache(2, 100, () => now);
    cache.set("a", "x}", 1000);
    cache.set("b", "y}", 1000);
    cache.get("a");
    cache.set("c", "z}", 1000);
    assert.ok(cache.get("a") && cache.get("c"));
    assert.equal(cache.get("b"), undefined, "least recently used went first");
    now = 1000;
    assert.equal(cache.get("a"), undefined, "expired");
    const small = new ListCache(100, 10, () => now);
    small.set("k1", "1234}", 1000);
    small.set("k2", "1234}", 1000);
    assert.equal(small.entries, 1, "byte bound");
    assert.equal(small.bytes, 7);
    small.set("big", "x".repeat(20), 1000);
    assert.equal(small.get("big"), undefined, "an entry larger than the whole cache is not kept");
  });
});
