import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientResponseHeaders, injection, upstreamRequestHeaders } from "../../src/security/header-policy.js";
import { hostAllowed, hostName, originAllowed } from "../../src/security/origin-host.js";

/** A flat [name, value, ...] header list as an object (repeated names collect into arrays). */
function asObject(list: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const [name, value] = [list[i] as string, list[i + 1] as string];
    const prior = out[name];
    out[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  return out;
}

const loopback = { loopbackListener: true, allowedHosts: [], allowedOrigins: [] };
const publicListener = { loopbackListener: false, allowedHosts: [], allowedOrigins: [] };

describe("Host and Origin policy", () => {
  it("reads host names with ports and IPv6 brackets", () => {
    assert.equal(hostName("LocalHost:8080"), "localhost");
    assert.equal(hostName("[::1]:8080"), "[::1]");
    assert.equal(hostName("example.com"), "example.com");
  });

  it("accepts only loopback names on a loopback listener", () => {
    for (const h of ["localhost:1", "127.0.0.1:8080", "[::1]:9", "127.5.6.7", "app.localhost"]) {
      assert.ok(hostAllowed(h, loopback), h);
    }
    for (const h of ["evil.example.com", "10.0.0.1:80", "localhost.evil.com", "", undefined]) {
      assert.ok(!hostAllowed(h, loopback), String(h));
    }
    assert.ok(hostAllowed("mcp.example.com", { ...loopback, allowedHosts: ["mcp.example.com"] }));
  });

  it("accepts any Host on a public listener unless hosts are listed", () => {
    assert.ok(hostAllowed("anything.example", publicListener));
    const listed = { ...publicListener, allowedHosts: ["mcp.example.com"] };
    assert.ok(hostAllowed("mcp.example.com:443", listed));
    assert.ok(!hostAllowed("other.example.com", listed));
  });

  it("accepts same-origin, listed or loopback origins, refuses the rest", () => {
    assert.ok(originAllowed("https://mcp.example.com", "mcp.example.com", publicListener));
    assert.ok(!originAllowed("https://evil.example.com", "mcp.example.com", publicListener));
    assert.ok(originAllowed("http://localhost:3000", "127.0.0.1:8080", loopback));
    assert.ok(!originAllowed("http://evil.example.com", "127.0.0.1:8080", loopback));
    assert.ok(!originAllowed("null", "127.0.0.1:8080", loopback));
    assert.ok(!originAllowed("file://x", "127.0.0.1:8080", loopback));
    assert.ok(
      originAllowed("https://app.example.com", "x", {
        ...publicListener,
        allowedOrigins: ["https://app.example.com/"],
      }),
    );
    assert.ok(originAllowed("https://whatever", "x", { ...publicListener, allowedOrigins: ["*"] }));
  });
});

describe("header policy", () => {
  const fwd = { clientAddress: "192.0.2.1", proto: "http" as const, trustProxy: false };

  it("drops hop-by-hop headers, those named by Connection, and what the gateway sets itself", () => {
    const out = asObject(
      upstreamRequestHeaders(
        {
          host: "gw",
          connection: "close, X-Secret",
          "x-secret": "1",
          "keep-alive": "timeout=5",
          te: "trailers",
          upgrade: "h2c",
          "transfer-encoding": "chunked",
          "content-length": "10",
          "accept-encoding": "gzip",
          "mcp-session-id": "s",
          authorization: "Bearer t",
        },
        fwd,
      ),
    );
    assert.deepEqual(Object.keys(out).sort(), [
      "authorization",
      "mcp-session-id",
      "x-forwarded-for",
      "x-forwarded-host",
      "x-forwarded-proto",
    ]);
    assert.equal(out["x-forwarded-host"], "gw");
  });

  it("on a tenant's server: drops the gateway credential and cookies, sends the server's own headers", () => {
    const out = upstreamRequestHeaders(
      {
        host: "gw",
        authorization: "Bearer swy_client-key",
        "x-api-key": "swy_client-key",
        cookie: "gw=1",
        "x-upstream-token": "forged-by-client",
        "mcp-session-id": "s",
        accept: "authorization",
      },
      {
        ...fwd,
        inject: {
          headers: ["authorization", "Bearer upstream", "x-upstream-token", "real"],
          names: new Set(["authorization", "x-upstream-token"]),
          credentials: true,
        },
      },
    );
    assert.ok(!out.join("\n").includes("swy_client-key"));
    assert.ok(!out.includes("forged-by-client"), "a client cannot set a header the server's config sets");
    const o = asObject(out);
    assert.equal(o.authorization, "Bearer upstream");
    assert.equal(o["x-upstream-token"], "real");
    assert.equal(o.cookie, undefined);
    assert.equal(o["x-api-key"], undefined);
    assert.equal(o.accept, "authorization", "a value equal to a header name is just a value");
    assert.equal(o["mcp-session-id"], "s");
  });

  it("replaces untrusted X-Forwarded-* and appends to trusted ones", () => {
    const incoming = { host: "gw", "x-forwarded-for": "1.1.1.1", "x-forwarded-proto": "https" };
    const untrusted = asObject(upstreamRequestHeaders(incoming, fwd));
    assert.equal(untrusted["x-forwarded-for"], "192.0.2.1");
    assert.equal(untrusted["x-forwarded-proto"], "http");
    const trusted = asObject(upstreamRequestHeaders(incoming, { ...fwd, trustProxy: true }));
    assert.equal(trusted["x-forwarded-for"], "1.1.1.1, 192.0.2.1");
    assert.equal(trusted["x-forwarded-proto"], "https");
  });

  it("bug: a tenant header configured with capitals could be forged by a client sending it", () => {
    // Node gives the client's header in lower case; the configured name was compared as written.
    const inject = injection({ "X-Upstream-Token": "real", "X-UPSTREAM-TOKEN": "later" });
    assert.deepEqual(inject, { headers: ["x-upstream-token", "later"], names: new Set(["x-upstream-token"]) });
    const out = upstreamRequestHeaders(
      { host: "gw", "x-upstream-token": "forged-by-client" },
      { ...fwd, inject: { ...inject, credentials: true } },
    );
    assert.ok(!out.includes("forged-by-client"));
    assert.equal(asObject(out)["x-upstream-token"], "later");
  });

  it("passes response headers except hop-by-hop ones", () => {
    const out = asObject(
      clientResponseHeaders({
        "content-type": "text/event-stream",
        "mcp-session-id": "s",
        "www-authenticate": "Bearer",
        "transfer-encoding": "chunked",
        connection: "x-a",
        "x-a": "1",
        "set-cookie": ["a=1", "b=2"],
      }),
    );
    assert.deepEqual(out, {
      "content-type": "text/event-stream",
      "mcp-session-id": "s",
      "www-authenticate": "Bearer",
      "set-cookie": ["a=1", "b=2"],
    });
  });
});
