import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { INIT_BODY } from "../helpers/mcp.js";
import { exchange, type FuzzRig, startFuzzRig, type WireReply } from "../helpers/raw-http.js";

/**
 * Request smuggling against a live gateway, over raw TCP. The gateway sits in front of a counting proxy
 * (its own Node HTTP parser) in front of a real replica: whatever the gateway passes on is read there
 * as requests. A request hidden in another one carries `smuggled` in its path and its `x-fuzz-case`
 * header; it must never be read there, whatever the gateway answers the client.
 */

const H = "Host: 127.0.0.1\r\n";
const J = "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
const PING = `{"jsonrpc":"2.0","id":7,"method":"ping"}`;
const INIT = JSON.stringify(INIT_BODY);
/** The hidden request: for the replica's own path, which the gateway does not serve. */
const HIDDEN = `POST /mcp HTTP/1.1\r\n${H}x-fuzz-case: smuggled\r\n${J}Content-Length: ${PING.length}\r\n\r\n${PING}`;
const hex = (s: string) => Buffer.byteLength(s).toString(16);

interface Case {
  name: string;
  /** Request bytes; `tag` goes in an `x-fuzz-case` header of the outer request. */
  data: (tag: string) => string;
  status: number;
  code?: string;
  /** The gateway closes the connection after its answer. */
  closes: boolean;
  /** Requests of this case the replica should receive (the outer one, when it is well-formed). */
  upstream: number;
}

/** A request whose framing is broken: refused with 400 SWY_BAD_HTTP, connection closed, nothing passed on. */
const broken = (name: string, data: (tag: string) => string): Case => ({
  name,
  data,
  status: 400,
  code: "SWY_BAD_HTTP",
  closes: true,
  upstream: 0,
});

const head = (tag: string, extra: string) => `POST /svc/mcp HTTP/1.1\r\n${H}x-fuzz-case: ${tag}\r\n${J}${extra}`;
const chunked = (tag: string, sizeLine: string, body = PING, te = "chunked") =>
  `${head(tag, `Transfer-Encoding: ${te}\r\n`)}\r\n${sizeLine}\r\n${body}\r\n0\r\n\r\n${HIDDEN}`;

const CASES: Case[] = [
  // Content-Length and Transfer-Encoding in conflict (CL.TE and TE.CL).
  broken(
    "Content-Length then Transfer-Encoding: chunked (CL.TE)",
    (t) => `${head(t, "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n")}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  broken(
    "Transfer-Encoding: chunked then Content-Length (TE.CL)",
    (t) => `${head(t, `Transfer-Encoding: chunked\r\nContent-Length: ${HIDDEN.length + 5}\r\n`)}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  broken(
    "two different Content-Length",
    (t) =>
      `${head(t, `Content-Length: ${PING.length}\r\nContent-Length: ${PING.length + HIDDEN.length}\r\n`)}\r\n${PING}${HIDDEN}`,
  ),
  broken(
    "two equal Content-Length",
    (t) => `${head(t, `Content-Length: ${PING.length}\r\nContent-Length: ${PING.length}\r\n`)}\r\n${PING}${HIDDEN}`,
  ),
  broken(
    "Content-Length as a list",
    (t) => `${head(t, `Content-Length: ${PING.length}, ${PING.length}\r\n`)}\r\n${PING}${HIDDEN}`,
  ),
  broken("Content-Length with a sign", (t) => `${head(t, `Content-Length: +${PING.length}\r\n`)}\r\n${PING}${HIDDEN}`),
  broken("negative Content-Length", (t) => `${head(t, "Content-Length: -1\r\n")}\r\n${PING}${HIDDEN}`),
  broken("hexadecimal Content-Length", (t) => `${head(t, "Content-Length: 0x28\r\n")}\r\n${PING}${HIDDEN}`),
  broken("empty Content-Length", (t) => `${head(t, "Content-Length: \r\n")}\r\n${PING}${HIDDEN}`),
  broken(
    "Content-Length past 2^64",
    (t) => `${head(t, "Content-Length: 99999999999999999999999\r\n")}\r\n${PING}${HIDDEN}`,
  ),
  broken(
    "a space before the colon of Content-Length",
    (t) => `${head(t, `Content-Length : ${PING.length}\r\n`)}\r\n${PING}${HIDDEN}`,
  ),
  broken(
    "a POST with neither Content-Length nor Transfer-Encoding but a body",
    (t) => `${head(t, "")}\r\n${PING}${HIDDEN}`,
  ),
  // Transfer-Encoding spelled so that one parser reads chunked and another does not.
  broken("Transfer-Encoding: chunked, identity (chunked not last)", (t) =>
    chunked(t, hex(PING), PING, "chunked, identity"),
  ),
  broken("Transfer-Encoding: xchunked", (t) => chunked(t, hex(PING), PING, "xchunked")),
  broken("Transfer-Encoding: chunked, chunked", (t) => chunked(t, hex(PING), PING, "chunked, chunked")),
  broken("Transfer-Encoding with a vertical tab", (t) => chunked(t, hex(PING), PING, "\x0bchunked")),
  broken(
    "a space before the colon of Transfer-Encoding",
    (t) => `${head(t, "Transfer-Encoding : chunked\r\n")}\r\n${hex(PING)}\r\n${PING}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  broken(
    "Transfer-Encoding folded onto a second line (obs-fold)",
    (t) => `${head(t, "Transfer-Encoding:\r\n chunked\r\n")}\r\n${hex(PING)}\r\n${PING}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  broken(
    "two Transfer-Encoding headers, chunked then identity",
    (t) =>
      `${head(t, "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n")}\r\n${hex(PING)}\r\n${PING}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  broken(
    "Transfer-Encoding: chunked in HTTP/1.0",
    (t) =>
      `POST /svc/mcp HTTP/1.0\r\n${H}x-fuzz-case: ${t}\r\n${J}Transfer-Encoding: chunked\r\n\r\n${hex(PING)}\r\n${PING}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  // Node reads that one as chunked and answers it (only a request behind it makes its parser balk).
  broken(
    "Transfer-Encoding: chunked in HTTP/1.0, nothing behind it",
    (t) =>
      `POST /svc/mcp HTTP/1.0\r\n${H}x-fuzz-case: ${t}\r\n${J}Transfer-Encoding: chunked\r\n\r\n${hex(PING)}\r\n${PING}\r\n0\r\n\r\n`,
  ),
  // Chunk sizes and chunk framing.
  broken("a chunk size that is not hexadecimal", (t) => chunked(t, "zz")),
  broken("a negative chunk size", (t) => chunked(t, `-${hex(PING)}`)),
  broken("a chunk size past 2^64", (t) => chunked(t, `1${"0".repeat(16)}${hex(PING)}`)),
  broken("a chunk size followed by a space", (t) => chunked(t, `${hex(PING)} `)),
  broken(
    "a chunk size line ended by a bare LF",
    (t) => `${head(t, "Transfer-Encoding: chunked\r\n")}\r\n${hex(PING)}\n${PING}\r\n0\r\n\r\n${HIDDEN}`,
  ),
  broken("a chunk longer than its size", (t) => chunked(t, "2")),
  broken("a chunk shorter than its size", (t) => chunked(t, hex(`${PING}${HIDDEN}`))),
  broken(
    "Content-Length in the chunked trailer",
    (t) =>
      `${head(t, "Transfer-Encoding: chunked\r\n")}\r\n${hex(PING)}\r\n${PING}\r\n0\r\nContent-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`,
  ),
  {
    name: "Transfer-Encoding: identity, chunked (a coding Node does not decode)",
    data: (t) => chunked(t, hex(PING), PING, "identity, chunked"),
    status: 501,
    code: "SWY_UNSUPPORTED_TRANSFER_ENCODING",
    closes: true,
    upstream: 0,
  },
  {
    name: "Transfer-Encoding: gzip, chunked (a coding Node does not decode)",
    data: (t) => chunked(t, hex(PING), PING, "gzip, chunked"),
    status: 501,
    code: "SWY_UNSUPPORTED_TRANSFER_ENCODING",
    closes: true,
    upstream: 0,
  },
  {
    name: "a request line without a version (HTTP/0.9) that still sends headers and a body",
    data: (t) => `POST /svc/mcp\r\n${H}x-fuzz-case: ${t}\r\n${J}Content-Length: ${INIT.length}\r\n\r\n${INIT}${HIDDEN}`,
    status: 505,
    code: "SWY_HTTP_VERSION_NOT_SUPPORTED",
    closes: true,
    upstream: 0,
  },
  {
    name: "HTTP/2.0 in an HTTP/1 request line",
    data: (t) =>
      `POST /svc/mcp HTTP/2.0\r\n${H}x-fuzz-case: ${t}\r\n${J}Content-Length: ${INIT.length}\r\n\r\n${INIT}${HIDDEN}`,
    status: 505,
    code: "SWY_HTTP_VERSION_NOT_SUPPORTED",
    closes: true,
    upstream: 0,
  },
  // Well-framed requests whose body holds another request: the body is a body.
  {
    name: "a second request as the whole body (Content-Length covers it)",
    data: (t) => `${head(t, `Content-Length: ${HIDDEN.length}\r\n`)}\r\n${HIDDEN}`,
    status: 400,
    code: "SWY_PARSE_ERROR",
    closes: false,
    upstream: 0,
  },
  {
    name: "a second request as the whole chunked body",
    data: (t) => `${head(t, "Transfer-Encoding: chunked\r\n")}\r\n${hex(HIDDEN)}\r\n${HIDDEN}\r\n0\r\n\r\n`,
    status: 400,
    code: "SWY_PARSE_ERROR",
    closes: false,
    upstream: 0,
  },
  {
    name: "odd casing of chunked is still chunked (ChUnKeD), and the body goes on as one request",
    data: (t) => `${head(t, "Transfer-Encoding: ChUnKeD\r\n")}\r\n${hex(INIT)}\r\n${INIT}\r\n0\r\n\r\n`,
    status: 200,
    closes: false,
    upstream: 1,
  },
  {
    name: "a JSON string holding a request line and headers goes on inside one request",
    data: (t) => {
      const body = JSON.stringify({ ...INIT_BODY, params: { ...INIT_BODY.params, note: `\r\n\r\n${HIDDEN}` } });
      return `${head(t, `Content-Length: ${Buffer.byteLength(body)}\r\n`)}\r\n${body}`;
    },
    status: 200,
    closes: false,
    upstream: 1,
  },
  {
    name: "an h2c upgrade request is answered over HTTP/1.1 and its Upgrade is not passed on",
    data: (t) =>
      `${head(t, `Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: ${INIT.length}\r\n`)}\r\n${INIT}`,
    status: 200,
    closes: false,
    upstream: 1,
  },
];

/** Wait for the answer: until the gateway closes, or (keep-alive) until one final response is in. */
function send(rig: FuzzRig, data: string, closes: boolean): Promise<WireReply> {
  return exchange(rig.port, Buffer.from(data, "latin1"), {
    waitMs: 4000,
    done: closes ? undefined : (r) => r.some((x) => x.status >= 200),
    lingerMs: 200,
  });
}

function codeOf(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { data?: { code?: string } } }).error?.data?.code;
}

describe("request smuggling: nothing hidden in a request reaches the upstream", () => {
  let rig: FuzzRig;

  before(async () => {
    rig = await startFuzzRig();
  });
  after(async () => {
    await rig?.stop();
  });

  it("the detector itself: a request hidden after an empty body, sent straight to the upstream, is seen", async () => {
    // What a desynchronized front end would do: pass the client's bytes on as they are.
    const { port } = new URL(rig.proxy.url);
    const bytes = `POST /mcp HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n${HIDDEN}`;
    await exchange(Number(port), bytes, { waitMs: 3000, done: (r) => r.length >= 2 });
    assert.equal(rig.smuggledSeen().length, 1, "the counting proxy reads the hidden request as one of its own");
    rig.proxy.seen.length = 0;
  });

  for (const c of CASES) {
    it(`${c.name} → ${c.status}${c.closes ? ", closed" : ""}`, async () => {
      const tag = `case-${CASES.indexOf(c)}`;
      const reply = await send(rig, c.data(tag), c.closes);
      assert.ok(!reply.timedOut, `answered or closed in time; got ${JSON.stringify(reply.raw.slice(0, 200))}`);
      const finals = reply.responses.filter((r) => r.status >= 200);
      assert.equal(finals.length, 1, `one answer, for the outer request only: ${JSON.stringify(reply.raw)}`);
      const [res] = finals as [(typeof finals)[number]];
      assert.equal(res.status, c.status, res.body);
      if (c.code !== undefined) assert.equal(codeOf(res.body), c.code);
      if (c.closes) {
        assert.ok(reply.closed, "the connection is closed after a framing error");
        assert.equal(res.headers.connection?.toLowerCase(), "close");
      }
      assert.equal(rig.upstreamSaw(tag).length, c.upstream, "requests of this case at the upstream");
      assert.deepEqual(rig.smuggledSeen(), [], "no hidden request reached the upstream");
      assert.deepEqual(rig.proxy.clientErrors, [], "the gateway sent the upstream nothing but HTTP");
    });
  }

  it("does not pass an h2c Upgrade or HTTP2-Settings header upstream", () => {
    const tag = `case-${CASES.findIndex((c) => c.name.startsWith("an h2c upgrade"))}`;
    const [seen] = rig.upstreamSaw(tag);
    assert.ok(seen);
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const hop of ["upgrade", "http2-settings"]) assert.ok(!names.includes(hop), `${hop} stays at the gateway`);
  });

  it("answers a request pipelined after an empty body as a request of its own, never inside the first", async () => {
    const pipelined = `${head("pipelined", "Content-Length: 0\r\n")}\r\n${HIDDEN}`;
    const more = await exchange(rig.port, pipelined, { waitMs: 3000, done: (r) => r.length >= 2, lingerMs: 200 });
    assert.ok(!more.timedOut);
    assert.deepEqual(
      more.responses.map((r) => [r.status, codeOf(r.body)]),
      [
        [400, "SWY_PARSE_ERROR"],
        [404, "SWY_ROUTE_NOT_FOUND"],
      ],
      "the empty body is refused, and the second request gets the gateway's own answer for its path",
    );
    assert.equal(rig.upstreamSaw("pipelined").length, 0);
    assert.deepEqual(rig.smuggledSeen(), []);
  });

  it("passes no body of a GET or a DELETE upstream: a request hidden there stays there", async () => {
    const sid = await rig.openSession();
    const session = `Mcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-11-25\r\n`;
    const get = await exchange(
      rig.port,
      `GET /svc/mcp HTTP/1.1\r\n${H}x-fuzz-case: get-body\r\nAccept: text/event-stream\r\n${session}Content-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`,
      { waitMs: 3000, done: (_, raw) => raw.includes("\r\n\r\n") && rig.upstreamSaw("get-body").length > 0 },
    );
    assert.match(get.raw, /^HTTP\/1\.1 200 /, "the GET stream opens");
    const del = await exchange(
      rig.port,
      `DELETE /svc/mcp HTTP/1.1\r\n${H}x-fuzz-case: delete-body\r\n${session}Content-Length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`,
      { waitMs: 3000, done: (r) => r.length >= 1 },
    );
    assert.equal(del.responses[0]?.status, 200, del.raw.slice(0, 300));
    assert.equal(rig.upstreamSaw("get-body").length, 1);
    assert.equal(rig.upstreamSaw("delete-body").length, 1);
    assert.deepEqual(rig.smuggledSeen(), []);
    assert.deepEqual(rig.proxy.clientErrors, []);
  });

  it("still serves a real MCP client after all of it, and never let a hidden request through", async () => {
    await rig.stillServes();
    assert.deepEqual(rig.smuggledSeen(), []);
    assert.deepEqual(rig.proxy.clientErrors, []);
    assert.equal(rig.gateway.child.exitCode, null, "the gateway is alive");
  });
});
