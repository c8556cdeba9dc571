import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bearerChallenge, metadataUrl } from "../../src/auth/challenge.js";
import { knownScopes, requiredScopes } from "../../src/auth/scopes.js";
import { authSchema } from "../../src/config/schema.js";
import type { RpcMessage } from "../../src/protocol/jsonrpc.js";

const auth = authSchema.parse({
  issuers: ["https://as.example"],
  scopes: ["mcp:read"],
  tools: { "delete_*": ["tickets:admin"], echo: ["mcp:echo"] },
  prompts: { summary: ["prompts:use"] },
  resources: { "file:///secret/*": ["files:secret"] },
});
const call = (method: string, params: Record<string, unknown>): RpcMessage => ({
  kind: "request",
  id: 1,
  method,
  params,
});

describe("OAuth: scopes a request needs, and the challenges (pure)", () => {
  it("adds the scopes of the tool, prompt or resource named, by pattern", () => {
    assert.deepEqual(requiredScopes(auth, [call("tools/list", {})]), ["mcp:read"]);
    assert.deepEqual(requiredScopes(auth, [call("tools/call", { name: "delete_ticket" })]), [
      "mcp:read",
      "tickets:admin",
    ]);
    assert.deepEqual(
      requiredScopes(auth, [call("tools/call", { name: "echo2" })]),
      ["mcp:read"],
      "a pattern matches whole",
    );
    assert.deepEqual(requiredScopes(auth, [call("prompts/get", { name: "summary" })]), ["mcp:read", "prompts:use"]);
    assert.deepEqual(requiredScopes(auth, [call("resources/read", { uri: "file:///secret/a.txt" })]), [
      "files:secret",
      "mcp:read",
    ]);
    // A batch needs what each of its calls needs.
    assert.deepEqual(
      requiredScopes(auth, [call("tools/call", { name: "echo" }), call("tools/call", { name: "delete_x" })]),
      ["mcp:echo", "mcp:read", "tickets:admin"],
    );
    assert.deepEqual(knownScopes(auth), ["files:secret", "mcp:echo", "mcp:read", "prompts:use", "tickets:admin"]);
  });

  it("refuses algorithms that must never verify a token", () => {
    assert.throws(() => authSchema.parse({ issuers: ["https://as.example"], algorithms: ["none"] }));
    assert.throws(() => authSchema.parse({ issuers: ["https://as.example"], algorithms: ["HS256"] }));
  });

  it("writes RFC 6750 / RFC 9728 challenges and metadata URLs", () => {
    assert.equal(
      metadataUrl("https://mcp.example.com/tickets/mcp"),
      "https://mcp.example.com/.well-known/oauth-protected-resource/tickets/mcp",
    );
    assert.equal(
      bearerChallenge({ resourceMetadata: "https://m/x", scopes: ["a", "b"], error: "insufficient_scope" }),
      'Bearer error="insufficient_scope", resource_metadata="https://m/x", scope="a b"',
    );
    assert.equal(
      bearerChallenge({ resourceMetadata: "https://m/x", scopes: [] }),
      'Bearer resource_metadata="https://m/x"',
    );
  });
});
