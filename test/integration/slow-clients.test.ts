import assert from "node:assert/strict";
import { request } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, startGateway, writeConfig } from "../helpers/procs.js";
import { connectionsOn } from "../helpers/raw-http.js";
import { type FixtureServer, SSE_HEADERS, startFixture } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The defaults of `timeouts.requestHeaders` and `timeouts.requestBody`: a 408 sooner than these can only
 * come from the configured 500 ms and 1 s, however slow the machine (so no tighter bound is needed).
 */
const DEFAULT_REQUEST_HEADERS_MS = 10_000;
const DEFAULT_REQUEST_BODY_MS = 30_000;

/** Connect, send `text`, and collect what comes back until the gateway closes the connection. */
function session(port: number, text: string): { socket: Socket; reply: Promise<{ text: string; afterMs: number }> } {
  const socket = netConnect(port, "127.0.0.1");
  const started = Date.now();
  socket.write(text);
  const reply = new Promise<{ text: string; afterMs: number }>((resolve) => {
    let got = "";
    socket.on("data", (d) => {
      got += d.toString();
    });
    socket.on("close", () => resolve({ text: got, afterMs: Date.now() - started }));
    socket.on("error", () => {});
  });
  return { socket, reply };
}

describe("slow clients", () => {
  let upstream: FixtureServer;
  let gateway: GatewayProc;
  let port: number;

  before(async () => {
    upstream = await startFixture((_req, res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write("data: hello\n\n");
      setTimeout(() => res.end("data: bye\n\n"), 2500);
    });
    gateway = await startGateway([
      "--config",
      writeConfig(`
logLevel: warn
upstreams:
  s:
    replicas: [${upstream.url}]
timeouts:
  requestHeaders: 500ms
  requestBody: 1s
`),
    ]);
    port = Number(new URL(gateway.base).port);
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it("answers 408 to a client that never finishes its headers (slow-loris)", async () => {
    const { reply } = session(port, "POST /s/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    const { text, afterMs } = await reply;
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.match(text, /SWY_REQUEST_TIMEOUT/);
    assert.ok(afterMs >= 500 && afterMs < DEFAULT_REQUEST_HEADERS_MS, `closed after ${afterMs} ms`);
  });

  it("answers 408 to a client that never finishes its body", async () => {
    const { reply } = session(
      port,
      "POST /s/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{",
    );
    const { text, afterMs } = await reply;
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.ok(afterMs >= 1000 && afterMs < DEFAULT_REQUEST_BODY_MS, `closed after ${afterMs} ms`);
  });

  it("answers 431 to oversized headers", async () => {
    const { reply } = session(port, `GET /s/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
    const { text } = await reply;
    assert.match(text, /^HTTP\/1\.1 431/);
    assert.match(text, /SWY_HEADERS_TOO_LARGE/);
  });

  // The upstream's 2.5 s before its last event (setTimeout in `before`) is the thing under test: a stream
  // that lives longer than the 500 ms / 1 s request timeouts.
  it("does not apply the request timeouts to a response stream that outlives them", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(gateway.route("s"), { method: "POST", headers: MCP_HEADERS }, (res) => {
        let got = "";
        res.on("data", (d) => {
          got += d;
        });
        res.on("end", () => resolve(got));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}');
    });
    assert.match(text, /hello[\s\S]*bye/, "the 2.5 s stream survived 500 ms / 1 s request timeouts");
  });

  it("keeps serving while slow clients hang on", async () => {
    const hangers = Array.from({ length: 20 }, () => session(port, "GET /s/mcp HTTP/1.1\r\n"));
    await waitFor(
      "the gateway to accept the 20 slow connections",
      () => connectionsOn(gateway.child.pid as number, port) >= 20,
    );
    const res = await fetch(`${gateway.base}/healthz`);
    assert.equal(res.status, 200);
    for (const h of hangers) h.socket.destroy();
  });
});
