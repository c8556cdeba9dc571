import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCidrs } from "../../src/security/address-policy.js";
import { checkRegistrationUrl } from "../../src/security/registration-url.js";

const policy = { allow: [], deny: parseCidrs(["168.63.129.16/32"]) };
const check = (url: string, allowHttp = false) => checkRegistrationUrl(url, { allowHttp, policy });

describe("registering a tenant's server URL", () => {
  it("accepts public https URLs, canonicalised", () => {
    assert.deepEqual(check("https://MCP.Example.com./mcp"), { ok: true, url: "https://mcp.example.com/mcp" });
    assert.deepEqual(check("https://93.184.216.34:8443/mcp?x=1"), {
      ok: true,
      url: "https://93.184.216.34:8443/mcp?x=1",
    });
    assert.equal(check("http://mcp.example.com/mcp", true).ok, true, "plain http where the operator allows it");
  });

  it("refuses other schemes, credentials, fragments, blocked ports and local or internal hosts", () => {
    for (const url of [
      "http://mcp.example.com/mcp",
      "ftp://mcp.example.com/",
      "file:///etc/passwd",
      "gopher://mcp.example.com/",
      "https://user:pw@mcp.example.com/mcp",
      "https://mcp.example.com@127.0.0.1/mcp",
      "https://mcp.example.com/mcp#frag",
      "https://mcp.example.com:22/",
      "https://mcp.example.com:6379/",
      "https://localhost/mcp",
      "https://LOCALHOST./mcp",
      "https://api.localhost/mcp",
      "https://127.0.0.1/mcp",
      "https://2130706433/mcp",
      "https://0x7f.1/mcp",
      "https://0177.0.0.1/mcp",
      "https://１２７.０.０.１/mcp",
      "https://[::1]/mcp",
      "https://[::ffff:7f00:1]/mcp",
      "https://169.254.169.254/latest/meta-data",
      "https://10.0.0.1/mcp",
      "https://[fd00::1]/mcp",
      "https://168.63.129.16/mcp",
      "https://0/mcp",
      "not a url",
    ]) {
      const r = check(url);
      assert.equal(r.ok, false, `${url} must be refused`);
    }
  });

  it("bug: two trailing dots hid an internal address or local name (and the stored URL named the address)", () => {
    // `127.0.0.1..` is a name to the URL parser; one dot was stripped, and setting the host to `127.0.0.1.`
    // stored https://127.0.0.1/.
    for (const url of ["https://127.0.0.1../mcp", "https://10.0.0.1..", "https://0x7f.1../", "https://localhost../"]) {
      assert.equal(check(url).ok, false, `${url} must be refused`);
    }
    assert.deepEqual(check("https://mcp.example.com../mcp"), { ok: true, url: "https://mcp.example.com/mcp" });
  });
});
