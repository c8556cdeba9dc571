import assert from "node:assert/strict";
import { request } from "node:http";
import { connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc } from "../helpers/http.js";
import { MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, rssOf, sleep, startGateway, writeConfig } from "../helpers/procs.js";
import { type FixtureServer, SSE_HEADERS, startFixture } from "../helpers/upstream.js";

/** Behaviour of one upstream request, chosen by the tool name the test calls. */
type Script = (res: import("node:http").ServerResponse, req: import("node:http").IncomingMessage) => Promise<void>;
const scripts = new Map<string, Script>();

function gatewayConfig(upstream: string, extra: string): string {
  return writeConfig(`
logLevel: warn
upstreams:
  s:
    replicas: [${upstream}]
health:
  enabled: false
${extra}`);
}

/** Open a POST through the gateway and hand back the response stream as it arrives. */
function openStream(url: string, tool: string) {
  return new Promise<{ res: import("node:http").IncomingMessage; req: import("node:http").ClientRequest }>(
    (resolve, reject) => {
      const req = request(url, { method: "POST", headers: MCP_HEADERS }, (res) => resolve({ res, req }));
      req.on("error", reject);
      req.end(rpc("tools/call", { name: tool, arguments: {} }));
    },
  );
}

describe("streaming through the gateway", () => {
  let upstream: FixtureServer;
  let gateway: GatewayProc;
  let plain: GatewayProc;

  before(async () => {
    upstream = await startFixture(async (req, res, body) => {
      const name =
        req.method === "GET" ? "get" : (JSON.parse(body.toString()) as { params: { name: string } }).params.name;
      await (scripts.get(name) as Script)(res, req);
    });
    gateway = await startGateway([
      "--config",
      gatewayConfig(
        upstream.url,
        "heartbeat:\n  interval: 100ms\nlimits:\n  streamBufferBytes: 64KiB\n  slowClientTimeout: 3s\n",
      ),
    ]);
    plain = await startGateway(["--config", gatewayConfig(upstream.url, "heartbeat:\n  interval: 0\n")]);
  });
  after(async () => {
    await Promise.all([gateway?.stop(), plain?.stop()]);
    await upstream?.close();
  });

  it("delivers each event before the upstream sends the next (no buffering)", async () => {
    let firstSeen!: () => void;
    const clientHasFirst = new Promise<void>((r) => {
      firstSeen = r;
    });
    scripts.set("causal", async (res) => {
      // An upstream that would have a proxy buffer: the gateway says `no`, once.
      res.writeHead(200, { ...SSE_HEADERS, "x-accel-buffering": "yes" });
      res.write('event: message\ndata: {"step":1}\n\n');
      // Only once the client holds event 1 does event 2 exist: a buffering proxy deadlocks here.
      await clientHasFirst;
      res.end('event: message\ndata: {"step":2}\n\n');
    });
    const { res } = await openStream(gateway.route("s"), "causal");
    assert.equal(res.headers["x-accel-buffering"], "no");
    assert.equal(res.headers["content-encoding"], undefined);
    let text = "";
    for await (const chunk of res) {
      text += chunk.toString();
      if (text.includes('"step":1')) firstSeen();
    }
    assert.match(text, /"step":1[\s\S]*"step":2/);
  });

  it("sends heartbeats only between events, after the idle interval", async () => {
    const sent: string[] = [];
    const write = (res: import("node:http").ServerResponse, s: string) => {
      sent.push(s);
      res.write(s);
    };
    scripts.set("idle", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      write(res, "id: 7\ndata: par");
      await sleep(450); // idle in the middle of an event: no heartbeat may go here
      write(res, "tial\n\n");
      await sleep(450); // idle between events: heartbeats expected
      write(res, "event: message\ndata: end\n\n");
      res.end();
    });
    const { res } = await openStream(gateway.route("s"), "idle");
    let text = "";
    for await (const chunk of res) text += chunk.toString();
    const beats = text.split(":\n\n").length - 1;
    assert.equal(text.replaceAll(":\n\n", ""), sent.join(""), "upstream bytes are intact around heartbeats");
    const firstBeat = text.indexOf(":\n\n");
    assert.ok(beats >= 2, `expected heartbeats in the idle gap, got ${beats}`);
    assert.ok(firstBeat > text.indexOf("tial\n\n"), "no heartbeat inside the unfinished event");
    // Every heartbeat sits where an event had just ended.
    let at = text.indexOf(":\n\n");
    while (at >= 0) {
      assert.ok(text.slice(0, at).endsWith("\n\n"), "heartbeat not at an event boundary");
      at = text.indexOf(":\n\n", at + 3);
    }
  });

  it("passes SSE byte for byte: ids, retry, priming events, comments, CRLF, split UTF-8", async () => {
    const payload = Buffer.from(
      [
        "id: prime-0\ndata:\n\n",
        "retry: 2500\n\n",
        ": a comment from upstream\n\n",
        'id: 1\r\nevent: message\r\ndata: {"a":"é😀"}\r\n\r\n',
        "data: line one\ndata: line two\n\n",
        "id: 3\rdata: cr only\r\r",
        'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
      ].join(""),
    );
    scripts.set("bytes", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      // Cut into odd pieces, splitting CRLFs and multi-byte characters.
      for (let i = 0; i < payload.length; i += 7) {
        res.write(payload.subarray(i, i + 7));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    });
    const { res } = await openStream(plain.route("s"), "bytes");
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(payload), "the client got exactly the upstream's bytes");
  });

  it("keeps a 202 with an empty body exactly that", async () => {
    scripts.set("accepted", async (res) => {
      res.writeHead(202);
      res.end();
    });
    const res = await rawRequest(plain.route("s"), { body: rpc("tools/call", { name: "accepted" }) });
    assert.equal(res.status, 202);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers["content-type"], undefined);
  });

  it("aborts the upstream request promptly when the client disconnects", async () => {
    let upstreamClosed!: (t: number) => void;
    const closedAt = new Promise<number>((r) => {
      upstreamClosed = r;
    });
    scripts.set("hold", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write("data: first\n\n");
      res.on("close", () => upstreamClosed(Date.now()));
    });
    const { res, req } = await openStream(gateway.route("s"), "hold");
    await new Promise((r) => res.once("data", r));
    const leftAt = Date.now();
    req.destroy();
    const at = await closedAt;
    assert.ok(at - leftAt < 1000, `upstream closed ${at - leftAt} ms after the client left`);
  });

  it("leaves no upstream connection behind when clients leave their streams", async () => {
    const connections = () => new Promise<number>((resolve) => upstream.server.getConnections((_e, n) => resolve(n)));
    scripts.set("leave", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write("data: open\n\n");
    });
    scripts.set("get", scripts.get("leave") as Script);
    const openGet = () =>
      new Promise<{ res: import("node:http").IncomingMessage; req: import("node:http").ClientRequest }>(
        (resolve, reject) => {
          const req = request(plain.route("s"), { headers: { accept: "text/event-stream" } }, (res) =>
            resolve({ res, req }),
          );
          req.on("error", reject);
          req.end();
        },
      );
    const before = await connections();
    const streams = await Promise.all([
      ...Array.from({ length: 25 }, () => openStream(plain.route("s"), "leave")),
      ...Array.from({ length: 25 }, openGet),
    ]);
    await Promise.all(streams.map(({ res }) => new Promise((r) => res.once("data", r))));
    assert.ok((await connections()) >= 50, "each stream holds an upstream connection");
    for (const { req } of streams) req.destroy();
    await sleep(3000);
    const after = await connections();
    assert.ok(after <= before, `${after} upstream connections left open, ${before} before`);
  });

  it("holds many concurrent streams to one replica (no connection cap by default)", async () => {
    scripts.set("open", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write("data: open\n\n");
    });
    const streams = await Promise.all(Array.from({ length: 400 }, () => openStream(plain.route("s"), "open")));
    await Promise.all(streams.map(({ res }) => new Promise((r) => res.once("data", r))));
    assert.equal(streams.filter(({ res }) => res.statusCode === 200).length, 400);
    for (const { req } of streams) req.destroy();
  });

  it("bounds what it holds for a client that never reads, then drops it; others are unaffected", async () => {
    let written = 0;
    let upstreamClosed = false;
    const chunk = Buffer.alloc(64 * 1024, "x");
    const prefix = Buffer.from("data: ");
    scripts.set("flood", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      res.on("close", () => {
        upstreamClosed = true;
      });
      // Write as fast as the gateway takes it, up to 1 GiB.
      while (!upstreamClosed && written < 1024 ** 3) {
        const ok = res.write(Buffer.concat([prefix, chunk, Buffer.from("\n\n")]));
        written += chunk.length;
        if (!ok) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              resolve();
            };
            res.on("drain", done);
            res.on("close", done);
          });
        }
      }
    });
    const pid = gateway.child.pid as number;
    const rssBefore = await rssOf(pid);
    const { port } = new URL(gateway.base);
    const socket = netConnect(Number(port), "127.0.0.1");
    socket.pause(); // never read
    const body = rpc("tools/call", { name: "flood" });
    socket.write(
      `POST /s/mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await sleep(1000);
    const w1 = written;
    await sleep(1000);
    const w2 = written;
    const rssDuring = await rssOf(pid);
    assert.equal(w2, w1, "the upstream is held back while the client does not read");
    assert.ok(w2 < 64 * 1024 ** 2, `only socket buffers' worth was written (${w2} bytes)`);
    assert.ok(rssDuring - rssBefore < 48 * 1024 ** 2, `gateway memory grew by ${rssDuring - rssBefore} bytes`);
    // Meanwhile everyone else is served.
    scripts.set("quick", async (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    assert.equal((await rawRequest(gateway.route("s"), { body: rpc("tools/call", { name: "quick" }) })).status, 200);
    // Past the slow-client timeout the stalled client is dropped and the upstream request aborted.
    const deadline = Date.now() + 5000;
    while (!upstreamClosed && Date.now() < deadline) await sleep(50);
    assert.ok(upstreamClosed, "the upstream request was aborted after the slow-client timeout");
    socket.destroy();
  });
});
