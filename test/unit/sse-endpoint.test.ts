import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EndpointScanner, endpointEvent, MAX_ENDPOINT_SCAN, resolveEndpoint } from "../../src/sse/endpoint.js";

function scanAll(chunks: string[]) {
  const scanner = new EndpointScanner();
  for (const c of chunks) {
    const r = scanner.push(Buffer.from(c));
    if (r.kind !== "more") return r;
  }
  return { kind: "more" as const };
}

describe("HTTP+SSE endpoint event", () => {
  const stream =
    ": hi\n\nevent: other\ndata: x\n\nid: 7\nevent: endpoint\ndata: /messages?sessionId=abc\n\ndata: after\n\n";

  it("is found however the stream is chunked, with what surrounds it kept byte for byte", () => {
    for (let size = 1; size <= stream.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      const r = scanAll(chunks);
      assert.equal(r.kind, "found", `chunks of ${size}`);
      if (r.kind !== "found") continue;
      assert.equal(r.data, "/messages?sessionId=abc");
      assert.equal(r.id, "7");
      assert.equal(r.before.toString(), ": hi\n\nevent: other\ndata: x\n\n");
      assert.ok("data: after\n\n".startsWith(r.after.toString()), `chunks of ${size}: "${r.after}"`);
    }
  });

  it("reads CRLF and CR line ends, and field values without the space", () => {
    for (const text of ["event:endpoint\r\ndata:/m?s=1\r\n\r\n", "event: endpoint\rdata: /m?s=1\r\r"]) {
      const r = scanAll([text]);
      assert.equal(r.kind === "found" && r.data, "/m?s=1");
    }
  });

  it("is not an event until its empty line, and gives up past the limit", () => {
    assert.equal(scanAll(["event: endpoint\ndata: /m\n"]).kind, "more");
    assert.equal(scanAll(["event: endpoint\n\n"]).kind, "more", "no data: not an endpoint");
    assert.equal(scanAll([`: ${"x".repeat(MAX_ENDPOINT_SCAN)}\n`]).kind, "too-large");
  });

  it("resolves relative and absolute URLs on the replica's origin only", () => {
    const stream = new URL("http://10.0.0.5:3001/base/sse");
    assert.equal(resolveEndpoint("/messages?sessionId=a", stream), "/messages?sessionId=a");
    assert.equal(resolveEndpoint("messages?sessionId=a", stream), "/base/messages?sessionId=a");
    assert.equal(resolveEndpoint("http://10.0.0.5:3001/m?x=1&y=2#frag", stream), "/m?x=1&y=2");
    assert.equal(resolveEndpoint("http://10.0.0.6:3001/m", stream), undefined);
    assert.equal(resolveEndpoint("https://10.0.0.5:3001/m", stream), undefined);
    assert.equal(resolveEndpoint("//evil.example/m", stream), undefined);
  });

  it("announces the gateway's URL as one event", () => {
    assert.equal(
      endpointEvent("https://gw/s/messages?sessionId=z", undefined).toString(),
      "event: endpoint\ndata: https://gw/s/messages?sessionId=z\n\n",
    );
    assert.equal(endpointEvent("u", "7").toString(), "id: 7\nevent: endpoint\ndata: u\n\n");
  });

  it("bug: an endpoint event after a UTF-8 BOM was never found (the stream was held, then dropped)", () => {
    const r = scanAll(["\uFEFFevent: endpoint\ndata: /messages?sessionId=a\n\n"]);
    assert.equal(r.kind, "found");
    if (r.kind !== "found") return;
    assert.equal(r.data, "/messages?sessionId=a");
    assert.equal(r.before.length + r.after.length, 0, "the BOM goes with the event the gateway replaces");
    assert.equal(scanAll(["\uFEFF", "event: endpoint\r\n", "data: /m\r\n\r\n"]).kind, "found");
  });

  it("bug: an id with a NUL (ignored by clients) replaced the endpoint event's own id", () => {
    const r = scanAll(["id: 7\nid: a\u0000b\nevent: endpoint\ndata: /m\n\n"]);
    assert.equal(r.kind === "found" && r.id, "7");
  });

  it("bug: CR or LF in the announced URL or id injected fields and events", () => {
    assert.equal(
      endpointEvent("https://gw/m?s=1\r\nevent: x\n\ndata: y", undefined).toString(),
      "event: endpoint\ndata: https://gw/m?s=1%0D%0Aevent: x%0A%0Adata: y\n\n",
    );
    assert.equal(endpointEvent("u", "1\n\ndata: evil").toString(), "event: endpoint\ndata: u\n\n");
    assert.equal(endpointEvent("u", "1\revent: x").toString(), "event: endpoint\ndata: u\n\n");
  });
});
