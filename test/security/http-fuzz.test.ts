import assert from "node:assert/strict";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { INIT_BODY } from "../helpers/mcp.js";
import { rssOf } from "../helpers/procs.js";
import {
  connectionsOn,
  exchange,
  type FuzzRig,
  fdCount,
  parseResponses,
  post,
  settle,
  startFuzzRig,
  type WireReply,
  type WireResponse,
} from "../helpers/raw-http.js";
import { waitFor } from "../helpers/wait.js";

/**
 * HTTP-level fuzzing of a live gateway over raw TCP (nothing client-side fixes the input): malformed
 * request lines and headers, absurd header counts and sizes, truncated and stalled bodies, bodies that
 * are not UTF-8 or nest 100,000 levels deep, and floods of tiny requests. Every case asserts what the
 * client gets; after every batch a real SDK client is still served; at the end the gateway's open file
 * descriptors and memory are back where they started. (Request smuggling: `smuggling.test.ts`.)
 */

const H = "Host: 127.0.0.1\r\n";
const J = "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
const INIT = JSON.stringify(INIT_BODY);
const PING = `{"jsonrpc":"2.0","id":7,"method":"ping"}`;

function codeOf(res: WireResponse | undefined): { rpc?: number; swy?: string } {
  const body = JSON.parse(res?.body ?? "{}") as { error?: { code?: number; data?: { code?: string } } };
  return { rpc: body.error?.code, swy: body.error?.data?.code };
}

interface Case {
  name: string;
  data: string | Buffer;
  status: number;
  swy?: string;
  /** The gateway closes the connection after answering. */
  closes: boolean;
}

const bad = (name: string, data: string): Case => ({ name, data, status: 400, swy: "SWY_BAD_HTTP", closes: true });
const get = (target: string, headers = H) => `GET ${target} HTTP/1.1\r\n${headers}\r\n`;

const REQUEST_LINES: Case[] = [
  bad("a method with a forbidden character", get("/svc/mcp").replace("GET", "G@T")),
  bad("a lowercase method", get("/svc/mcp").replace("GET", "get")),
  bad("a method no HTTP parser knows", get("/svc/mcp").replace("GET", "FROB")),
  bad("a space before the method", ` ${get("/svc/mcp")}`),
  bad("a method alone", `GET\r\n${H}\r\n`),
  bad("HTTP/9.9", get("/svc/mcp").replace("HTTP/1.1", "HTTP/9.9")),
  bad("HTTP/1.2", get("/svc/mcp").replace("HTTP/1.1", "HTTP/1.2")),
  bad("HTTPS/1.1 as the protocol", get("/svc/mcp").replace("HTTP/1.1", "HTTPS/1.1")),
  bad("a word after the version", get("/svc/mcp").replace("HTTP/1.1", "HTTP/1.1 please")),
  bad("a lowercase version", get("/svc/mcp").replace("HTTP/1.1", "http/1.1")),
  bad("a control byte (0x01) in the path", get("/svc/\x01mcp")),
  bad("NUL in the path", get("/svc/\x00mcp")),
  bad("DEL in the path", get("/svc/mcp\x7f")),
  bad("a tab in the path", get("/svc/mcp\t")),
  bad("a raw non-ASCII byte in the path", get("/svc/\xffmcp")),
  bad("a request line ended by CR alone", `GET /svc/mcp HTTP/1.1\r${H}\r\n`),
  bad("lines ended by LF alone", `GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n`),
  bad("the HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  {
    name: "a 100 KB path",
    data: get(`/${"a".repeat(100_000)}`),
    status: 431,
    swy: "SWY_HEADERS_TOO_LARGE",
    closes: true,
  },
  {
    name: "a path with no version (HTTP/0.9)",
    data: `GET /svc/mcp\r\n\r\n`,
    status: 505,
    swy: "SWY_HTTP_VERSION_NOT_SUPPORTED",
    closes: true,
  },
  {
    name: "CONNECT (the gateway is no forward proxy)",
    data: `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`,
    status: 405,
    swy: "SWY_METHOD_NOT_ALLOWED",
    closes: true,
  },
  {
    name: "a method HTTP knows but MCP does not use (PROPFIND)",
    data: get("/svc/mcp").replace("GET", "PROPFIND"),
    status: 405,
    swy: "SWY_METHOD_NOT_ALLOWED",
    closes: false,
  },
];

const HEADERS: Case[] = [
  bad("a header line without a colon", get("/healthz", `${H}NoColonHere\r\n`)),
  bad("a space before the colon", get("/healthz", `${H}X-Note : b\r\n`)),
  bad("a folded header (obs-fold)", get("/healthz", `${H}X-Note: b\r\n c\r\n`)),
  bad("whitespace before the first header", get("/healthz", ` ${H}`)),
  bad("an empty header name", get("/healthz", `${H}: value\r\n`)),
  bad("a tab in a header name", get("/healthz", `${H}X\tNote: b\r\n`)),
  bad("a non-ASCII header name", get("/healthz", `${H}X-\xe9t\xe9: b\r\n`)),
  bad("NUL in a header value", get("/healthz", `${H}X-Note: a\x00b\r\n`)),
  bad("CR inside a header value", get("/healthz", `${H}X-Note: a\rb\r\n`)),
  bad("LF inside a header value (a header injected after it)", get("/healthz", `${H}X-Note: a\nMcp-Session-Id: x\r\n`)),
  bad("DEL in a header value", get("/healthz", `${H}X-Note: a\x7fb\r\n`)),
  {
    name: "HTTP/1.1 without Host",
    data: get("/healthz", ""),
    status: 400,
    swy: "SWY_BAD_HTTP",
    closes: true,
  },
  {
    name: "two Host headers",
    data: `POST /svc/mcp HTTP/1.1\r\nHost: evil.example\r\n${H}${J}Content-Length: ${INIT.length}\r\n\r\n${INIT}`,
    status: 400,
    swy: "SWY_BAD_HTTP",
    closes: true,
  },
  {
    name: "an Expect the gateway cannot meet",
    data: `POST /svc/mcp HTTP/1.1\r\n${H}${J}Expect: 42-bananas\r\nContent-Length: ${PING.length}\r\n\r\n${PING}`,
    status: 417,
    swy: "SWY_EXPECTATION_FAILED",
    closes: true,
  },
  {
    name: "HTTP/1.0 without Host (allowed)",
    data: `GET /healthz HTTP/1.0\r\n\r\n`,
    status: 200,
    closes: true,
  },
];

const manyHeaders = (n: number, line = (i: number) => `X-H${i}: v\r\n`) =>
  Array.from({ length: n }, (_, i) => line(i)).join("");

const SIZES: Case[] = [
  {
    name: "2,000 header fields",
    data: get("/healthz", `${H}${manyHeaders(1999)}`),
    status: 431,
    swy: "SWY_HEADERS_TOO_LARGE",
    closes: true,
  },
  {
    name: "101 header fields",
    data: get("/healthz", `${H}${manyHeaders(100)}`),
    status: 431,
    swy: "SWY_HEADERS_TOO_LARGE",
    closes: true,
  },
  {
    name: "100 header fields (the limit)",
    data: get("/healthz", `${H}${manyHeaders(99)}`),
    status: 200,
    closes: false,
  },
  {
    name: "one 100 KB header",
    data: get("/healthz", `${H}X-Big: ${"a".repeat(100_000)}\r\n`),
    status: 431,
    swy: "SWY_HEADERS_TOO_LARGE",
    closes: true,
  },
  {
    name: "headers of 20 KB in all",
    data: get("/healthz", `${H}${manyHeaders(40, (i) => `X-H${i}: ${"b".repeat(500)}\r\n`)}`),
    status: 431,
    swy: "SWY_HEADERS_TOO_LARGE",
    closes: true,
  },
];

/**
 * Wait for the answer: until the gateway closes, or (keep-alive) one final response and a moment more.
 * `waitMs` only stops a gateway that never answers from hanging the test: an answer takes milliseconds.
 */
function send(rig: FuzzRig, c: { data: string | Buffer; closes: boolean }, waitMs = 10_000): Promise<WireReply> {
  return exchange(rig.port, typeof c.data === "string" ? Buffer.from(c.data, "latin1") : c.data, {
    waitMs,
    done: c.closes ? undefined : (r) => r.some((x) => x.status >= 200),
    lingerMs: 100,
  });
}

function assertCase(c: Case, reply: WireReply): void {
  assert.ok(!reply.timedOut, `answered in time; got ${JSON.stringify(reply.raw.slice(0, 300))}`);
  const finals = reply.responses.filter((r) => r.status >= 200);
  assert.equal(finals.length, 1, `one answer: ${JSON.stringify(reply.raw.slice(0, 500))}`);
  const res = finals[0] as WireResponse;
  assert.equal(res.status, c.status, res.body);
  if (c.swy !== undefined) {
    assert.match(res.headers["content-type"] ?? "", /application\/json/);
    assert.equal(codeOf(res).swy, c.swy);
  }
  if (c.closes) assert.ok(reply.closed, "the gateway closes the connection");
  else assert.ok(!reply.closed, "the connection stays open");
}

describe("HTTP fuzzing of a live gateway", () => {
  let rig: FuzzRig;
  let sid: string;
  let baseline: { fds: number; rss: number; heap: number };
  const started = Date.now();

  before(async () => {
    rig = await startFuzzRig();
    sid = await rig.openSession();
    // Descriptors: counted now, with nothing pooled but the session's upstream connection.
    const fds = fdCount(rig.pid);
    // Memory: V8 grows its heap for a load and keeps it (RSS does not come down within seconds, GC or
    // not), so the baseline is taken after one round of the floods that follow: what the end measures
    // is growth over a second round and every other batch, i.e. leaks.
    await healthFlood(rig);
    await keepAliveFlood(rig, sid, "warmup");
    await pipelinedFlood(rig, sid, "warmup");
    // Once the gateway has closed the warm-up's client connections.
    await waitFor("the gateway to close the warm-up's connections", () => connectionsOn(rig.pid, rig.port) === 0);
    baseline = { fds, rss: await rssOf(rig.pid), heap: await rig.inspector.liveHeap() };
    await snapshot("before");
  });
  after(async () => {
    await rig?.stop();
  });

  /** With SWITCHYARD_HEAP_SNAPSHOTS=DIR, the gateway's heap before and after the batches, to compare in DevTools. */
  async function snapshot(name: string): Promise<void> {
    const dir = process.env.SWITCHYARD_HEAP_SNAPSHOTS;
    if (dir) await rig.inspector.snapshot(join(dir, `fuzz-${process.version}-${name}.heapsnapshot`));
  }

  describe("malformed request lines", () => {
    for (const c of REQUEST_LINES) {
      it(`${c.name} → ${c.status}`, async () => assertCase(c, await send(rig, c)));
    }
    it("CONNECT names the methods that are allowed", async () => {
      const reply = await send(rig, REQUEST_LINES.find((c) => c.name.startsWith("CONNECT")) as Case);
      assert.equal(reply.responses[0]?.headers.allow, "GET, POST, DELETE");
    });
    it("still serves a real MCP client", () => rig.stillServes());
  });

  describe("malformed headers", () => {
    for (const c of HEADERS) {
      it(`${c.name} → ${c.status}`, async () => assertCase(c, await send(rig, c)));
    }
    it("passes a non-ASCII (obs-text) header value on byte for byte", async () => {
      const value = "caf\xc3\xa9 \xff";
      const data = Buffer.from(
        `POST /svc/mcp HTTP/1.1\r\n${H}${J}x-fuzz-case: obs-text\r\nX-Note: ${value}\r\nContent-Length: ${INIT.length}\r\n\r\n${INIT}`,
        "latin1",
      );
      assertCase({ name: "", data, status: 200, closes: false }, await send(rig, { data, closes: false }));
      const [seen] = rig.upstreamSaw("obs-text");
      assert.equal(seen?.rawHeaders[seen.rawHeaders.findIndex((h) => h.toLowerCase() === "x-note") + 1], value);
    });
    it("still serves a real MCP client", () => rig.stillServes());
  });

  describe("absurd header counts and sizes", () => {
    for (const c of SIZES) {
      it(`${c.name} → ${c.status}`, async () => assertCase(c, await send(rig, c)));
    }
    it("refuses 2,100 header fields then Mcp-Session-Id with 431, never passing the request on without it", async () => {
      // Node keeps about the first thousand fields and drops the rest without a word: the request would
      // have gone upstream as a session-less one.
      const data = post(
        "/svc/mcp",
        PING,
        `x-fuzz-case: dropped-session\r\n${manyHeaders(2100, () => "a:b\r\n")}Mcp-Session-Id: ${sid}\r\n`,
      );
      const reply = await send(rig, { data, closes: true });
      assert.equal(reply.responses[0]?.status, 431);
      assert.equal(rig.upstreamSaw("dropped-session").length, 0);
    });
    it("still serves a real MCP client", () => rig.stillServes());
  });

  describe("truncated bodies and stalled clients", () => {
    it("times out or drops 60 truncated requests without holding up anyone else", async () => {
      const { port } = rig;
      const partial = (i: number) =>
        Buffer.from(
          `POST /svc/mcp HTTP/1.1\r\n${H}${J}x-fuzz-case: truncated\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":"2.0","id":${i}`,
        );
      const chunkedPartial = Buffer.from(
        `POST /svc/mcp HTTP/1.1\r\n${H}${J}x-fuzz-case: truncated\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{"jsonrpc"`,
      );
      // Baseline: the same real client and ping, with nothing hanging.
      const b0 = performance.now();
      await rig.stillServes();
      await exchange(port, sessionPing(sid, "meanwhile"), { done: (r) => r.length >= 1 });
      const baselineMs = performance.now() - b0;
      // Waits far past the configured 2 s, to see a default timeout (10 s headers, 30 s body) if it applied.
      const wait = { waitMs: 15_000 };
      let firstLetGo: number | undefined;
      const held = (reply: Promise<WireReply>) =>
        reply.then((r) => {
          firstLetGo ??= performance.now();
          return r;
        });
      const stalled = [
        ...Array.from({ length: 20 }, (_, i) => held(exchange(port, partial(i), wait))),
        ...Array.from({ length: 10 }, () => held(exchange(port, chunkedPartial, wait))),
        // Headers that never end (slowloris).
        ...Array.from({ length: 10 }, () => held(exchange(port, `POST /svc/mcp HTTP/1.1\r\n${H}X-Slow: 1\r\n`, wait))),
      ];
      // Clients that stop sending mid-body (half-close), and clients that vanish.
      const ended = Array.from({ length: 10 }, (_, i) => exchange(port, partial(i), { ...wait, end: true }));
      for (let i = 0; i < 10; i++) {
        const s = netConnect(port, "127.0.0.1");
        s.on("error", () => {});
        s.write(partial(i), () => s.destroy());
      }
      // Meanwhile everyone else is served at once: once the gateway holds the 40 stalled connections, a
      // real client is served before any of them is let go (head-of-line blocking would serve it only
      // after their timeouts). No bound in ms.
      await waitFor("the gateway to hold the 40 stalled connections", () => connectionsOn(rig.pid, port) >= 40);
      const t1 = performance.now();
      await rig.stillServes();
      const ping = await exchange(port, sessionPing(sid, "meanwhile"), { done: (r) => r.length >= 1 });
      assert.equal(ping.responses[0]?.status, 200);
      const servedMs = performance.now() - t1;
      assert.equal(
        firstLetGo,
        undefined,
        `a real client was served (in ${servedMs.toFixed(0)} ms; ${baselineMs.toFixed(0)} ms with nothing hanging) only after a stalled request was let go`,
      );

      for (const reply of await Promise.all(stalled)) {
        assert.ok(reply.closed, "a stalled request is closed by the gateway");
        assert.equal(reply.responses.length, 1, reply.raw);
        assert.equal(reply.responses[0]?.status, 408);
        assert.equal(codeOf(reply.responses[0]).swy, "SWY_REQUEST_TIMEOUT");
        // requestHeaders and requestBody are 2 s (Node checks them every second): not sooner (less a few ms
        // between two processes' clocks), and before Node's defaults (10 s for headers) could have applied.
        assert.ok(
          reply.ms >= 1_950 && reply.ms < 10_000,
          `timed out by the configured 2 s, not sooner, not by a default: ${reply.ms.toFixed(0)} ms`,
        );
      }
      for (const reply of await Promise.all(ended)) {
        assert.ok(reply.closed);
        for (const r of reply.responses) assert.equal(codeOf(r).swy, "SWY_BAD_HTTP", "at most a 400 for a cut body");
      }
      assert.equal(rig.upstreamSaw("truncated").length, 0, "no incomplete request went upstream");
    });
    it("still serves a real MCP client", () => rig.stillServes());
  });

  describe("bodies that are not UTF-8 or nest absurdly deep", () => {
    const modern = (params: string) =>
      post(
        "/svc/mcp",
        `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"filter":${params}}}`,
        "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\nx-fuzz-case: body\r\n",
      );
    const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    const invalidUtf8 = (bytes: number[]) =>
      post(
        "/svc/mcp",
        Buffer.concat([
          Buffer.from(`{"jsonrpc":"2.0","id":4,"method":"ping","params":{"note":"`),
          Buffer.from(bytes),
          Buffer.from(`"}}`),
        ]),
        `x-fuzz-case: body\r\nMcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-11-25\r\n`,
      );
    const cases: Array<{ name: string; data: Buffer; rpc: number; swy: string }> = [
      {
        name: "a body of bytes that are not UTF-8",
        data: post("/svc/mcp", Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
        rpc: -32700,
        swy: "SWY_PARSE_ERROR",
      },
      {
        name: "a valid message with a stray byte in a string (0xFF)",
        data: invalidUtf8([0xff]),
        rpc: -32700,
        swy: "SWY_PARSE_ERROR",
      },
      {
        name: "an overlong encoding of '/' (0xC0 0xAF)",
        data: invalidUtf8([0xc0, 0xaf]),
        rpc: -32700,
        swy: "SWY_PARSE_ERROR",
      },
      {
        name: "an encoded UTF-16 surrogate (0xED 0xA0 0x80)",
        data: invalidUtf8([0xed, 0xa0, 0x80]),
        rpc: -32700,
        swy: "SWY_PARSE_ERROR",
      },
      {
        name: "a truncated sequence (0xE2 0x82)",
        data: invalidUtf8([0xe2, 0x82]),
        rpc: -32700,
        swy: "SWY_PARSE_ERROR",
      },
      { name: "100,000 unclosed [", data: post("/svc/mcp", "[".repeat(100_000)), rpc: -32700, swy: "SWY_PARSE_ERROR" },
      {
        name: "100,000 nested arrays",
        data: post("/svc/mcp", nested(100_000)),
        rpc: -32600,
        swy: "SWY_INVALID_REQUEST",
      },
      {
        name: "100,000 nested objects",
        data: post("/svc/mcp", `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`),
        rpc: -32600,
        swy: "SWY_INVALID_REQUEST",
      },
      {
        name: "a legacy request with 100,000 levels in its params",
        data: post(
          "/svc/mcp",
          `{"jsonrpc":"2.0","id":5,"method":"ping","params":{"a":${nested(100_000)}}}`,
          `x-fuzz-case: body\r\nMcp-Session-Id: ${sid}\r\n`,
        ),
        rpc: -32600,
        swy: "SWY_INVALID_REQUEST",
      },
      {
        name: "a modern tools/list with 100,000 levels in its params",
        data: modern(nested(100_000)),
        rpc: -32600,
        swy: "SWY_INVALID_REQUEST",
      },
      {
        name: "a modern tools/list with 5,000 levels in its params",
        data: modern(nested(5_000)),
        rpc: -32600,
        swy: "SWY_INVALID_REQUEST",
      },
    ];
    for (const c of cases) {
      it(`${c.name} → 400 ${c.rpc}`, async () => {
        const reply = await send(rig, { data: c.data, closes: false });
        assertCase({ name: c.name, data: c.data, status: 400, swy: c.swy, closes: false }, reply);
        assert.equal(codeOf(reply.responses[0]).rpc, c.rpc);
        assert.equal(rig.upstreamSaw("body").length, 0, "nothing went upstream");
      });
    }
    it("passes a modern tools/list nested 500 levels on to the replica (under the limit)", async () => {
      const data = Buffer.from(
        modern(nested(500)).toString("latin1").replace("x-fuzz-case: body", "x-fuzz-case: deep-ok"),
        "latin1",
      );
      const reply = await send(rig, { data, closes: false });
      assert.ok(reply.responses[0] && reply.responses[0].status < 500, reply.raw.slice(0, 300));
      assert.equal(rig.upstreamSaw("deep-ok").length, 1);
    });
    it("still serves a real MCP client", () => rig.stillServes());
  });

  describe("floods of tiny requests", () => {
    it("answers 20,000 pipelined GET /healthz on one connection, all 200, in order", async () => {
      const reply = await healthFlood(rig);
      assert.equal(reply.responses.length, 20_000);
      assert.ok(reply.responses.every((r) => r.status === 200 && r.body === '{"status":"ok"}'));
    });

    it("answers 20,000 keep-alive requests over 100 connections: 404s, 200s and upstream pings", async () => {
      const { answered, pings } = await keepAliveFlood(rig, sid, "keepalive");
      assert.equal(answered, 20_000, "every request answered as expected, connection by connection");
      assert.equal(pings, 2_000);
      assert.equal(rig.upstreamSaw("keepalive").length, 2_000, "each ping reached the replica once");
    });

    it("answers a pipelining client within the bound in full (32 pings, in order)", async () => {
      const reply = await exchange(rig.port, sessionPing(sid, "pipelined-ok").repeat(32), {
        waitMs: 10_000,
        done: (r) => r.length >= 32,
        lingerMs: 100,
      });
      assert.deepEqual(
        reply.responses.map((r) => r.status),
        Array(32).fill(200),
      );
      assert.ok(!reply.closed);
    });

    it("answers a flood of 20,000 pipelined upstream requests, refusing those past 32 waiting (503): no fan-out", async () => {
      // Before: every pipelined request went upstream at once: 20,000 upstream connections from one
      // client connection (8,900 open descriptors seen, 260 MB more memory, 17 s).
      rig.proxy.resetMax();
      const fdsBefore = fdCount(rig.pid);
      let maxFds = 0;
      const sampler = setInterval(() => {
        maxFds = Math.max(maxFds, fdCount(rig.pid));
      }, 10);
      const reply = await pipelinedFlood(rig, sid, "flood");
      clearInterval(sampler);
      assert.ok(!reply.timedOut && !reply.closed, "every request answered, the connection still open");
      const statuses = reply.responses.map((r) => r.status);
      const served = statuses.filter((s) => s === 200).length;
      const refused = reply.responses.filter((r) => r.status === 503);
      assert.equal(served + refused.length, 20_000, `only 200s and 503s: ${[...new Set(statuses)]}`);
      assert.deepEqual(statuses.slice(0, 32), Array(32).fill(200), "the first 32 are served");
      assert.ok(refused.length > 0);
      process.stdout.write(`# served ${served} refused ${refused.length} in ${reply.ms.toFixed(0)} ms\n`);
      for (const r of refused) {
        assert.equal(codeOf(r).swy, "SWY_TOO_MANY_PIPELINED");
        assert.equal(r.headers["retry-after"], "1");
      }
      assert.equal(rig.upstreamSaw("flood").length, served, "the replica saw exactly the ones served");
      assert.ok(
        rig.proxy.maxInFlight <= 33,
        `at most 32 at once upstream (+ a health check): ${rig.proxy.maxInFlight}`,
      );
      assert.ok(maxFds <= fdsBefore + 40, `descriptors during the flood: ${maxFds} (before: ${fdsBefore})`);
    });
    it("still serves a real MCP client", () => rig.stillServes());
  });

  it("ends with descriptors and memory back at their baseline, and the gateway alive", async () => {
    // Descriptors: the upstream pool's idle connections close after undici's keep-alive timeout (4 s),
    // the SDK client's after its own; +5 leaves room for the check's own connections.
    const fds = await settle(
      () => fdCount(rig.pid),
      (n) => n <= baseline.fds + 5,
      20_000,
    );
    assert.ok(fds <= baseline.fds + 5, `descriptors ${fds}, baseline ${baseline.fds}`);
    // Memory: the live heap after full collections, forced through the gateway's inspector (RSS says
    // what V8 holds, not what is alive: it grows into a load and gives pages back on its own schedule,
    // differently from one Node version to the next). The baseline was taken after a warm-up of the
    // same kinds of load; since then ~45,000 requests were answered.
    const heap = await rig.inspector.liveHeap();
    const rss = await rssOf(rig.pid);
    await snapshot("after");
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
    process.stdout.write(
      `# live heap ${mb(baseline.heap)} → ${mb(heap)} (${((heap - baseline.heap) / 45_000).toFixed(1)} B per request); RSS ${mb(baseline.rss)} → ${mb(rss)}\n`,
    );
    // 4 MB over ~45,000 requests: a leak of ~90 bytes per request fails (a string kept per request does).
    assert.ok(heap <= baseline.heap + 4 * 1024 * 1024, `live heap ${mb(heap)}, baseline ${mb(baseline.heap)}`);
    assert.equal(rig.gateway.child.exitCode, null, "the gateway is alive");
    assert.deepEqual(
      rig.gateway.stderr.filter((l) => /Error|at /.test(l)),
      [],
      "no stack trace on the gateway's stderr",
    );
    process.stdout.write(`# fds ${baseline.fds} → ${fds}; ${Date.now() - started} ms\n`);
  });
});

/** A ping in session `sid`, tagged for the counting proxy. */
function sessionPing(sid: string, tag: string): string {
  return post(
    "/svc/mcp",
    PING,
    `x-fuzz-case: ${tag}\r\nMcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-11-25\r\n`,
  ).toString("latin1");
}

/**
 * How long a flood of 20,000 may take before the test gives up on it: no bound on the gateway's speed
 * (6 to 12 s here, over 20 s on a loaded machine), only against a gateway that stops answering.
 */
const FLOOD_WAIT_MS = 90_000;

/** 20,000 GET /healthz pipelined on one connection, until all are answered. */
function healthFlood(rig: FuzzRig): Promise<WireReply> {
  const n = 20_000;
  return exchange(rig.port, get("/healthz").repeat(n), { waitMs: FLOOD_WAIT_MS, done: (r) => r.length >= n });
}

/** `n` pings in session `sid` pipelined on one connection, until all are answered. */
function pipelinedFlood(rig: FuzzRig, sid: string, tag: string, n = 20_000): Promise<WireReply> {
  return exchange(rig.port, sessionPing(sid, tag).repeat(n), { waitMs: FLOOD_WAIT_MS, done: (r) => r.length >= n });
}

/**
 * 20,000 requests over 100 keep-alive connections, each sent when the previous one is answered: one in
 * ten a ping in session `sid` (to the replica), the others alternately an unknown session (404 from the
 * gateway) and /healthz. Rejects on any unexpected status or a closed connection.
 */
async function keepAliveFlood(rig: FuzzRig, sid: string, tag: string): Promise<{ answered: number; pings: number }> {
  const kinds = {
    unknown: { data: post("/svc/mcp", PING, "Mcp-Session-Id: no-such-session\r\n"), status: 404 },
    health: { data: Buffer.from(get("/healthz")), status: 200 },
    ping: { data: Buffer.from(sessionPing(sid, tag), "latin1"), status: 200 },
  };
  let answered = 0;
  let pings = 0;
  const sockets: Socket[] = [];
  const flood = Promise.all(
    Array.from({ length: 100 }, (_, conn) => {
      const socket = netConnect(rig.port, "127.0.0.1");
      sockets.push(socket);
      let buffer = "";
      let i = 0;
      const next = () => {
        const kind = (conn + i) % 10 === 0 ? kinds.ping : i % 2 ? kinds.unknown : kinds.health;
        if (kind === kinds.ping) pings++;
        socket.write(kind.data);
        return kind.status;
      };
      return new Promise<void>((resolve, reject) => {
        let expected = next();
        socket.on("data", (d: Buffer) => {
          buffer += d.toString("latin1");
          for (let [res] = parseResponses(buffer); res; [res] = parseResponses(buffer)) {
            buffer = buffer.slice(res.end);
            if (res.status !== expected) {
              const why = rig.proxy.upstreamErrors.join("; ") || "none";
              return reject(new Error(`got ${res.status} ${codeOf(res).swy}, expected ${expected} (proxy: ${why})`));
            }
            answered++;
            if (++i === 200) {
              socket.destroy();
              return resolve();
            }
            expected = next();
          }
        });
        socket.on("error", reject);
        socket.on("close", () => reject(new Error(`connection ${conn} closed after ${i} answers`)));
      });
    }),
  );
  // On a failure, the other connections stop too: left running, they would load the tests after this one.
  await flood.finally(() => {
    for (const s of sockets) s.destroy();
  });
  return { answered, pings };
}
