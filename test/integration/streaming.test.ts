import assert from "node:assert/strict";
import { request } from "node:http";
import { connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc } from "../helpers/http.js";
import { MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, rssOf, sleep, startGateway, writeConfig } from "../helpers/procs.js";
import { type FixtureServer, SSE_HEADERS, startFixture } from "../helpers/upstream.js";
import { metricValue, waitFor } from "../helpers/wait.js";

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
    // The upstream goes on only once the client has seen two heartbeats in the gap between events (or
    // gives up after 10 s, and the count below fails): no timing, however busy the machine.
    let text = "";
    const beatsSeen = () => text.split(":\n\n").length - 1;
    let gotBeats!: () => void;
    const twoBeats = new Promise<void>((r) => {
      gotBeats = r;
    });
    const timeout = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
    scripts.set("idle", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      write(res, "id: 6\ndata: whole\n\n");
      const idleStart = Date.now();
      await Promise.race([twoBeats, timeout(10_000)]);
      // Idle in the middle of an event for as long as the gap just measured, in which the gateway sent two
      // heartbeats: a relay that ignored event boundaries would send about two here too.
      const gap = Date.now() - idleStart;
      write(res, "id: 7\ndata: par");
      await sleep(gap); // the idling under test: no heartbeat may go here
      write(res, "tial\n\n");
      write(res, "event: message\ndata: end\n\n");
      res.end();
    });
    const { res } = await openStream(gateway.route("s"), "idle");
    for await (const chunk of res) {
      text += chunk.toString();
      if (beatsSeen() >= 2) gotBeats();
    }
    const beats = beatsSeen();
    assert.equal(text.replaceAll(":\n\n", ""), sent.join(""), "upstream bytes are intact around heartbeats");
    assert.ok(beats >= 2, `expected heartbeats in the idle gap, got ${beats}`);
    const partial = text.slice(text.indexOf("data: par"), text.indexOf("tial\n\n"));
    assert.ok(!partial.includes(":\n\n"), "no heartbeat inside the unfinished event");
    // Every heartbeat sits where an event had just ended (or before the first byte: a boundary too).
    let at = text.indexOf(":\n\n");
    while (at >= 0) {
      assert.ok(at === 0 || text.slice(0, at).endsWith("\n\n"), "heartbeat not at an event boundary");
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
    let closedAt: number | undefined;
    scripts.set("hold", async (res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write("data: first\n\n");
      res.on("close", () => {
        closedAt = Date.now();
      });
    });
    // On the gateway without heartbeats: nothing is written to the client after it leaves, there is no
    // body timeout upstream (`bodyTimeout: 0`) and the upstream never ends this answer, so only the
    // gateway acting on the client's departure can close the upstream request. No bound in ms is needed:
    // the wait only keeps a broken gateway from hanging the test.
    const { res, req } = await openStream(plain.route("s"), "hold");
    await new Promise((r) => res.once("data", r));
    const leftAt = Date.now();
    req.destroy();
    await waitFor("the upstream request to close after the client left", () => closedAt !== undefined);
    process.stdout.write(`# upstream closed ${(closedAt as number) - leftAt} ms after the client left\n`);
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
    // Nothing else closes these upstream requests (no body timeout, answers that never end): only the
    // gateway acting on each client's departure brings the count back down.
    let after = 0;
    await waitFor(
      "the upstream connections of the 50 streams to close",
      async () => {
        after = await connections();
        return after <= before;
      },
      { timeoutMs: 15_000 },
    ).catch(() => {});
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
    /** The upstream waits for `drain`: the gateway has stopped taking its bytes. */
    let blocked = false;
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
          blocked = true;
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off("drain", done);
              res.off("close", done);
              resolve();
            };
            res.on("drain", done);
            res.on("close", done);
          });
          blocked = false;
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
    const slowClients = () =>
      metricValue(`${gateway.base}/metrics`, 'switchyard_faults_total{where="forward",code="SWY_SLOW_CLIENT"}');
    const droppedBefore = await slowClients();
    // Meanwhile (once the upstream first had to wait for the gateway) everyone else is served.
    await waitFor("the upstream to wait for the gateway", () => blocked);
    scripts.set("quick", async (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    assert.equal((await rawRequest(gateway.route("s"), { body: rpc("tools/call", { name: "quick" }) })).status, 200);
    // The gateway drops a client only after its buffer stayed full, not drained once, for the slow-client
    // timeout (3 s): the upstream was held back all that time. Then the upstream request is aborted
    // (nothing else would end it: the upstream never finishes, there is no body timeout). Until then, the
    // gateway's memory is sampled: its peak is what it held for the client.
    let rssPeak = 0;
    await waitFor(
      "the upstream request to be aborted after the slow-client timeout",
      async () => {
        rssPeak = Math.max(rssPeak, await rssOf(pid));
        return upstreamClosed;
      },
      { everyMs: 100 },
    );
    assert.equal(await slowClients(), droppedBefore + 1, "dropped as a slow client (SWY_SLOW_CLIENT)");
    assert.ok(written < 64 * 1024 ** 2, `only socket buffers' worth was written (${written} bytes)`);
    assert.ok(rssPeak - rssBefore < 48 * 1024 ** 2, `gateway memory grew by ${rssPeak - rssBefore} bytes`);
    socket.destroy();
  });
});
