import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { HEARTBEAT, SseBoundary } from "../../src/sse/boundary.js";
import { parseEvents } from "../../src/sse/parse.js";
import { SseRelay } from "../../src/sse/relay.js";

/** Feed `text` in the given pieces; return whether the tracker ends at a boundary. */
function endsAtBoundary(pieces: string[]): boolean {
  const b = new SseBoundary();
  for (const p of pieces) b.push(Buffer.from(p));
  return b.atBoundary;
}

/** Every way of cutting `text` in two (and three) pieces. */
function cuts(text: string): string[][] {
  const out: string[][] = [[text]];
  for (let i = 1; i < text.length; i++) {
    out.push([text.slice(0, i), text.slice(i)]);
    for (let j = i + 1; j < text.length; j++) out.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  }
  return out;
}

describe("SSE event boundaries", () => {
  const complete = [
    "data: x\n\n",
    "data: x\r\n\r\n",
    "data: x\r\r",
    "id: 1\nevent: message\ndata: a\ndata: b\n\n",
    ": comment\n\n",
    "retry: 100\n\n",
    "id: 0\ndata:\n\n",
    "data: a\n\ndata: b\r\n\r\n",
  ];
  const unfinished = [
    "data: x",
    "data: x\n",
    "data: x\r\n",
    "data: x\r",
    "data: a\n\ndata: b\n",
    "id: 1\r\nevent: m\r\n",
  ];

  for (const text of complete) {
    it(`is at a boundary after ${JSON.stringify(text)}, however it is chunked`, () => {
      for (const pieces of cuts(text)) assert.equal(endsAtBoundary(pieces), true, JSON.stringify(pieces));
    });
  }
  for (const text of unfinished) {
    it(`is inside an event after ${JSON.stringify(text)}, however it is chunked`, () => {
      for (const pieces of cuts(text)) assert.equal(endsAtBoundary(pieces), false, JSON.stringify(pieces));
    });
  }

  it("starts at a boundary, and a heartbeat leaves it at one", () => {
    const b = new SseBoundary();
    assert.equal(b.atBoundary, true);
    b.push(Buffer.from("data: x\n\n"));
    b.heartbeatWritten();
    assert.equal(b.atBoundary, true);
    b.push(Buffer.from("data: y"));
    assert.equal(b.atBoundary, false);
  });

  it("treats the LF of a CRLF split around a heartbeat as the client would", () => {
    const b = new SseBoundary();
    b.push(Buffer.from("data: x\r\n\r"));
    assert.equal(b.atBoundary, true);
    b.heartbeatWritten();
    b.push(Buffer.from("\n"));
    assert.equal(b.atBoundary, true, "a lone LF after the heartbeat is an empty line");
  });
});

describe("SSE relay", () => {
  /** A relay on a response that records writes; `beat()` is its idle timer firing. */
  function relayed() {
    const written: Buffer[] = [];
    const res = {
      writableLength: 0,
      destroyed: false,
      writableEnded: false,
      write: (c: Buffer) => written.push(c) > 0,
    };
    const relay = new SseRelay(res as unknown as ServerResponse, 0);
    const beat = () => {
      relay.tick();
      relay.stop();
    };
    return { relay, beat, out: () => Buffer.concat(written) };
  }

  it("bug: a heartbeat before the upstream's first byte pushed its UTF-8 BOM mid-stream, losing the first event", () => {
    for (const pieces of [["\uFEFFdata: first\n\n"], ["\xEF", "\xBB\xBF", "data: first\n\n"]]) {
      const { relay, beat, out } = relayed();
      beat();
      for (const p of pieces)
        relay.write(Buffer.from(p, p.startsWith("\xEF") || p.startsWith("\xBB") ? "latin1" : "utf8"));
      assert.equal(out().toString(), `${HEARTBEAT}data: first\n\n`, JSON.stringify(pieces));
      assert.deepEqual(
        parseEvents(out()).map((e) => e.data),
        ["first"],
      );
    }
  });

  it("passes a BOM through when no heartbeat went before it, and later bytes that look like one", () => {
    const { relay, beat, out } = relayed();
    relay.write(Buffer.from("\uFEFFdata: a\n\n"));
    beat();
    relay.write(Buffer.from("\uFEFFdata: b\n\n"));
    assert.equal(out().toString(), `\uFEFFdata: a\n\n${HEARTBEAT}\uFEFFdata: b\n\n`);
  });
});
