import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatReport, toReport } from "../../src/doctor/finding.js";
import {
  ECHOED,
  judgeBuffering,
  judgeHeaders,
  judgeIdle,
  type StreamObservation,
} from "../../src/doctor/stream-judge.js";
import { corsHeaders, preflightHeaders, underCors } from "../../src/security/cors.js";

/** A stream as an unbuffered path delivers it: five ticks 300 ms apart, every header echoed. */
function observed(over: Partial<StreamObservation> = {}): StreamObservation {
  return {
    received: { ...ECHOED, "x-forwarded-proto": "https" },
    responseSessionId: "switchyard-diagnostics",
    contentEncoding: undefined,
    heartbeatMs: 15_000,
    ticks: [0, 1, 2, 3, 4].map((i) => ({ sentAt: 1000 + i * 300, arrivedAt: 50_000 + i * 300 + (i % 2) * 7 })),
    idleMs: 0,
    ended: true,
    cutAfterMs: undefined,
    heartbeats: 0,
    ...over,
  };
}

describe("switchyard check: judging the diagnostic stream", () => {
  it("passes events that arrive as they were sent; fails events that arrive together, or compressed", () => {
    assert.equal(judgeBuffering(observed()).status, "pass");
    const together = observed({ ticks: [0, 1, 2, 3, 4].map((i) => ({ sentAt: 1000 + i * 300, arrivedAt: 9000 + i })) });
    const buffered = judgeBuffering(together);
    assert.equal(buffered.status, "fail");
    assert.match(buffered.title, /buffers/);
    assert.match(buffered.fix ?? "", /proxy_buffering off/);
    assert.equal(judgeBuffering(observed({ contentEncoding: "gzip" })).status, "fail");
    assert.equal(judgeBuffering(observed({ ticks: [] })).status, "fail");
  });

  it("passes an idle stream that reached its end; fails one cut before, naming the timeout", () => {
    assert.equal(judgeIdle(observed()).status, "skip");
    assert.equal(judgeIdle(observed({ idleMs: 120_000, heartbeats: 8 })).status, "pass");
    const cut = judgeIdle(observed({ idleMs: 120_000, ended: false, cutAfterMs: 60_000 }));
    assert.equal(cut.status, "fail");
    assert.match(cut.title, /cut after 60\.0 s of 120\.0 s/);
    assert.match(cut.fix ?? "", /timeout/);
  });

  it("names the headers a proxy dropped, changed, or did not pass back", () => {
    assert.equal(judgeHeaders(observed()).status, "pass");
    const { "mcp-session-id": _, ...withoutSession } = ECHOED;
    const dropped = judgeHeaders(observed({ received: { ...withoutSession, "mcp-name": "other" } }));
    assert.equal(dropped.status, "fail");
    assert.match(dropped.title, /dropped: mcp-session-id/);
    assert.match(dropped.title, /changed: mcp-name/);
    const hidden = judgeHeaders(observed({ responseSessionId: undefined }));
    assert.match(hidden.title, /not passed back: mcp-session-id/);
  });

  it("reports fails as not ok, and prints the fix only where something is wrong", () => {
    const report = toReport("https://x/svc/mcp", [
      { id: "tls", status: "pass", title: "fine", fix: "never shown" },
      { id: "stream.idle", status: "fail", title: "cut", fix: "raise the timeout" },
    ]);
    assert.equal(report.ok, false);
    assert.deepEqual(report.counts, { pass: 1, warn: 0, fail: 1, skip: 0 });
    const text = formatReport(report);
    assert.match(text, /FAIL {2}stream\.idle {2}cut/);
    assert.match(text, /fix: raise the timeout/);
    assert.doesNotMatch(text, /never shown/);
  });
});

describe("CORS for browser clients", () => {
  it("exposes Mcp-Session-Id, and allows only the MCP request headers asked for", () => {
    assert.match(corsHeaders("https://app.example")["access-control-expose-headers"] ?? "", /Mcp-Session-Id/);
    const pre = preflightHeaders(
      "https://app.example",
      "GET, POST, DELETE",
      "Content-Type, Mcp-Session-Id, Mcp-Param-City, X-Evil",
    );
    assert.equal(pre["access-control-allow-headers"], "content-type, mcp-session-id, mcp-param-city");
    assert.equal(pre["access-control-allow-origin"], "https://app.example");
    assert.equal(pre.vary, "Origin");
  });

  it("drops an upstream's own Access-Control-* headers under the gateway's CORS, and keeps its Vary with Origin", () => {
    const upstream = ["content-type", "application/json", "access-control-allow-origin", "*", "vary", "Accept"];
    assert.deepEqual(underCors(upstream), ["content-type", "application/json", "vary", "Accept, Origin"]);
  });
});
