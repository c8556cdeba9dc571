import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HEARTBEAT, SseBoundary } from "../../src/sse/boundary.js";
import { EndpointScanner, endpointEvent, resolveEndpoint } from "../../src/sse/endpoint.js";
import { parseEvents } from "../../src/sse/parse.js";
import { SseRelay } from "../../src/sse/relay.js";
import { runs } from "./runs.js";
import { byteSoup, cuts, endpointBlock, fieldValue, sseStream, sseStreamOf } from "./sse-arbitraries.js";
import { type ClientView, clientView, cut } from "./sse-reference.js";

/**
 * The gateway reads upstream streams (parse.ts, the endpoint scanner) and writes to clients (the relay's
 * heartbeats, the rewritten endpoint event). Whatever the upstream sends and however the network cuts
 * it, a client must see the same events as if it had read the upstream itself — save for the one
 * endpoint URL the gateway replaces on purpose.
 */

const anyStream = fc.oneof(sseStream, byteSoup);

const BOM = Buffer.from("\uFEFF");
/**
 * For the tracker alone: streams that do not begin with a BOM. A client drops a BOM only at the very
 * start, so one after a heartbeat would spoil the first field: the relay drops it (its own property).
 */
const noBomStream = anyStream.filter((b) => !b.subarray(0, 3).equals(BOM));
/** Streams that begin with a BOM, two, or the first bytes of one. */
const bomFirst = fc
  .tuple(fc.constantFrom(BOM, Buffer.concat([BOM, BOM]), BOM.subarray(0, 1), BOM.subarray(0, 2)), anyStream)
  .map((parts) => Buffer.concat(parts));

/** A stream with an endpoint event somewhere, other events and noise around it. */
const withEndpoint = fc
  .tuple(sseStreamOf({ bom: true, tail: false }), endpointBlock, sseStream)
  .map(([a, e, b]) => Buffer.concat([a, Buffer.from(e), b]));

/** What the gateway's relay writes: the chunks, and a heartbeat wherever its tracker allows one. */
function withHeartbeats(chunks: readonly Buffer[]): Buffer {
  const boundary = new SseBoundary();
  const out: Buffer[] = [];
  const beat = () => {
    if (!boundary.atBoundary) return;
    out.push(HEARTBEAT);
    boundary.heartbeatWritten();
  };
  beat();
  for (const chunk of chunks) {
    out.push(chunk);
    boundary.push(chunk);
    beat();
  }
  return Buffer.concat(out);
}

/** Whether `bytes` are empty or end right after an empty line (line ends CRLF, LF or CR). */
function endsWithEmptyLine(bytes: Buffer): boolean {
  let lineEmpty = true;
  let lastLineEmpty = true;
  let atLineEnd = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a && bytes[i - 1] === 0x0d) continue;
    if (b === 0x0a || b === 0x0d) {
      lastLineEmpty = lineEmpty;
      lineEmpty = true;
      atLineEnd = true;
    } else {
      lineEmpty = false;
      atLineEnd = false;
    }
  }
  return atLineEnd && lastLineEmpty;
}

/** A stand-in for the client's response: records writes; `writableLength` is what the socket still holds. */
class FakeResponse {
  readonly written: Buffer[] = [];
  writableLength = 0;
  destroyed = false;
  writableEnded = false;
  write(chunk: Buffer): boolean {
    this.written.push(chunk);
    return true;
  }
}

function sameView(actual: ClientView, expected: ClientView, message?: string): void {
  assert.deepEqual(actual, expected, message);
}

describe("property: SSE parser", () => {
  it("parseEvents never throws and reads every stream as a client does", () => {
    fc.assert(
      fc.property(anyStream, (bytes) => {
        const events = parseEvents(bytes);
        const client = clientView(bytes).events;
        assert.deepEqual(
          events.map((e) => [e.event, e.data]),
          client.map((e) => [e.type, e.data]),
        );
        events.forEach((e, i) => {
          // The event's own id, when it has one, is the id a client holds once it is dispatched.
          if (e.id !== undefined) assert.equal(e.id, client[i]?.lastEventId, `event ${i}'s id`);
        });
      }),
      runs(3000),
    );
  });

  it("each event's byte range holds exactly that event, in stream order", () => {
    fc.assert(
      fc.property(anyStream, (bytes) => {
        let prev = 0;
        for (const e of parseEvents(bytes)) {
          assert.ok(prev <= e.start && e.start < e.end && e.end <= bytes.length);
          // Read on its own, but not as a stream's start (where a BOM would be dropped): after an empty line.
          const range = bytes.subarray(e.start, e.end);
          const alone = parseEvents(e.start === 0 ? range : Buffer.concat([Buffer.from("\n"), range]));
          assert.deepEqual(
            alone.map((a) => [a.event, a.data, a.id]),
            [[e.event, e.data, e.id]],
          );
          prev = e.end;
        }
      }),
      runs(1500),
    );
  });

  it("the events of any prefix are the first events of the whole stream (nothing is dispatched early)", () => {
    fc.assert(
      fc.property(anyStream, fc.nat(), (bytes, at) => {
        const whole = parseEvents(bytes).map((e) => [e.event, e.data, e.id, e.start]);
        const prefix = parseEvents(bytes.subarray(0, at % (bytes.length + 1))).map((e) => [
          e.event,
          e.data,
          e.id,
          e.start,
        ]);
        assert.deepEqual(prefix, whole.slice(0, prefix.length));
      }),
      runs(1500),
    );
  });
});

describe("property: heartbeats between events", () => {
  it("a heartbeat wherever SseBoundary allows one never changes what the client reads, however the stream is cut", () => {
    fc.assert(
      fc.property(noBomStream, cuts, (bytes, at) => {
        const out = withHeartbeats(cut(bytes, at));
        sameView(clientView(out), clientView(bytes));
      }),
      runs(3000),
    );
  });

  it("even with a heartbeat allowed after every single byte", () => {
    fc.assert(
      fc.property(noBomStream, (bytes) => {
        const bytewise = [...bytes].map((b) => Buffer.of(b));
        const out = withHeartbeats(bytewise);
        sameView(clientView(out), clientView(bytes));
      }),
      runs(1000),
    );
  });

  it("the tracker is at a boundary exactly when the bytes so far are empty or end with an empty line", () => {
    fc.assert(
      fc.property(anyStream, cuts, (bytes, at) => {
        const boundary = new SseBoundary();
        let seen = 0;
        for (const chunk of cut(bytes, at)) {
          boundary.push(chunk);
          seen += chunk.length;
          assert.equal(boundary.atBoundary, endsWithEmptyLine(bytes.subarray(0, seen)), `after ${seen} bytes`);
        }
      }),
      runs(1500),
    );
  });

  it("SseRelay writes the upstream byte for byte, heartbeats only between events and only to an empty socket", () => {
    fc.assert(
      fc.property(fc.oneof(anyStream, bomFirst), cuts, fc.array(fc.boolean(), { maxLength: 14 }), (bytes, at, busy) => {
        const res = new FakeResponse();
        // Interval 0: no timer of its own; `tick()` is the timer firing after a silence.
        const relay = new SseRelay(res as unknown as ServerResponse, 0);
        const fire = (i: number) => {
          res.writableLength = busy[i % Math.max(1, busy.length)] ? 1 : 0;
          const before = res.written.length;
          relay.tick();
          relay.stop();
          if (res.writableLength > 0) assert.equal(res.written.length, before, "a heartbeat queued behind data");
        };
        fire(0);
        cut(bytes, at).forEach((chunk, i) => {
          relay.write(chunk);
          fire(i + 1);
        });
        const out = Buffer.concat(res.written);
        const upstream = Buffer.concat(res.written.filter((c) => c !== HEARTBEAT));
        // Unchanged, but for a BOM (or what may still become one) that a heartbeat went before.
        const bom = Math.min(BOM.length, bytes.length);
        const dropped = res.written[0] === HEARTBEAT && bytes.subarray(0, bom).equals(BOM.subarray(0, bom));
        assert.ok(upstream.equals(dropped ? bytes.subarray(bom) : bytes), "the upstream's bytes, unchanged");
        sameView(clientView(out), clientView(bytes));
      }),
      runs(1500),
    );
  });
});

describe("property: the HTTP+SSE endpoint event", () => {
  const gatewayUrl = fc.webUrl({ withQueryParameters: true });

  it("is found the same however the stream is cut, and the rewritten stream reads the same but for its URL", () => {
    fc.assert(
      fc.property(withEndpoint, cuts, gatewayUrl, (bytes, at, url) => {
        const original = clientView(bytes);
        const index = original.events.findIndex((e) => e.type === "endpoint");
        assert.ok(index >= 0);
        const chunks = cut(bytes, at);
        const scanner = new EndpointScanner();
        let i = 0;
        let scan: ReturnType<EndpointScanner["push"]> = { kind: "more" };
        while (scan.kind === "more" && i < chunks.length) scan = scanner.push(chunks[i++] as Buffer);
        assert.equal(scan.kind, "found");
        if (scan.kind !== "found") return;
        const whole = new EndpointScanner().push(bytes);
        assert.ok(whole.kind === "found");
        assert.equal(scan.data, whole.data);
        assert.equal(scan.data, original.events[index]?.data);
        assert.equal(scan.id, whole.id);
        assert.ok(scan.before.equals(whole.before), "the bytes before the event");

        const rewritten = Buffer.concat([scan.before, endpointEvent(url, scan.id), scan.after, ...chunks.slice(i)]);
        const expected = original.events.map((e, n) => (n === index ? { ...e, data: url } : e));
        sameView(clientView(rewritten), { events: expected, lastEventId: original.lastEventId });
      }),
      runs(2000),
    );
  });

  it("is found if and only if a client would see one, and nothing is found early", () => {
    fc.assert(
      fc.property(anyStream, cuts, (bytes, at) => {
        const seen = clientView(bytes).events.some((e) => e.type === "endpoint");
        const scanner = new EndpointScanner();
        let read = 0;
        let found = false;
        for (const chunk of cut(bytes, at)) {
          read += chunk.length;
          const r = scanner.push(chunk);
          if (r.kind === "found") {
            assert.ok(
              clientView(bytes.subarray(0, read)).events.some((e) => e.type === "endpoint"),
              "a client has read it",
            );
            found = true;
            break;
          }
        }
        assert.equal(found, seen);
      }),
      runs(2000),
    );
  });

  it("the announced event carries exactly one URL and id, whatever the values (no field injection)", () => {
    const hostile = fc.oneof(
      fieldValue,
      fc.string({ unit: "binary", maxLength: 30 }),
      fc
        .tuple(
          fieldValue,
          fc.constantFrom("\n", "\r", "\r\n", "\n\n", "\r\r"),
          fc.constantFrom("data: x", "event: y", "id: z", "retry: 1", ""),
          fieldValue,
        )
        .map((p) => p.join("")),
    );
    fc.assert(
      fc.property(hostile, fc.option(hostile, { nil: undefined }), sseStream, (url, id, next) => {
        const bytes = endpointEvent(url, id);
        const boundary = new SseBoundary();
        boundary.push(bytes);
        assert.ok(boundary.atBoundary, "ends between events");
        const view = clientView(bytes);
        assert.equal(view.events.length, 1);
        const [event] = view.events;
        assert.equal(event?.type, "endpoint");
        assert.ok(!/[\r\n]/.test(event?.data ?? ""), "one data line");
        if (!/[\r\n]/.test(url)) assert.equal(event?.data, url);
        const representable = id !== undefined && !/[\r\n\u0000]/.test(id);
        assert.equal(event?.lastEventId, representable ? id : "");
        // Whatever follows is read as it would be alone.
        const after = clientView(Buffer.concat([bytes, next.subarray(next.indexOf("\uFEFF") === 0 ? 3 : 0)]));
        const alone = clientView(next);
        assert.deepEqual(
          after.events.slice(1).map((e) => [e.type, e.data]),
          alone.events.map((e) => [e.type, e.data]),
        );
      }),
      runs(2000),
    );
  });

  it("an announced URL resolves to a clean path on the replica itself, or to nothing", () => {
    const stream = new URL("http://10.0.0.5:3001/base/sse?x=1");
    const announced = fc.oneof(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.webPath(),
      fc.string({ unit: "binary", maxLength: 30 }),
      fc
        .tuple(
          fc.constantFrom(
            "/",
            "//",
            "\\\\",
            "http://10.0.0.5:3001/",
            "http://10.0.0.5:3002/",
            "https://10.0.0.5:3001/",
            "",
          ),
          fc.string({ maxLength: 20 }),
        )
        .map((p) => p.join("")),
    );
    fc.assert(
      fc.property(announced, (a) => {
        const path = resolveEndpoint(a, stream);
        if (path === undefined) return;
        assert.match(path, /^\/[\x21-\x7e]*$/, "a request target with nothing to inject");
        // Sent as the request target to the replica's own connection.
        assert.equal(new URL(`${stream.origin}${path}`).origin, stream.origin);
        assert.equal(new URL(a.trim(), stream).origin, stream.origin, "announced on the replica's own origin");
      }),
      runs(1500),
    );
  });
});
