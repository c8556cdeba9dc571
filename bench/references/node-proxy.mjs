// node-proxy: the leanest correct Node proxy, the reference for a proxied request. `node:http` in, an
// undici Pool per upstream out (its `dispatch` handler API: no promise, no stream objects per request);
// every end-to-end header forwarded both ways (hop-by-hop ones dropped, RFC 9110 §7.6.1), the request
// body read and parsed as JSON (what any MCP-aware proxy must do), the answer relayed with backpressure
// (SSE events as they come), the upstream request aborted when the client leaves.
// `node node-proxy.mjs PORT ROUTES_JSON` ({"name": "127.0.0.1:PORT", ...}; `/NAME/...` goes to that
// upstream, path unchanged) prints {"msg":"listening"} once it listens on 127.0.0.1:PORT.
import { createServer } from "node:http";
import { Pool } from "undici";

const [port, routesJson] = process.argv.slice(2);
const pools = new Map(
  Object.entries(JSON.parse(routesJson)).map(([name, upstream]) => [name, new Pool(`http://${upstream}`)]),
);
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
]);

/** One request's relay: undici calls it as the upstream answers. */
class Relay {
  constructor(res) {
    this.res = res;
    this.controller = undefined;
    this.gone = false;
  }
  onRequestStart(controller) {
    this.controller = controller;
    if (this.gone) controller.abort(new Error("client went away"));
  }
  onResponseStart(_controller, status, headers) {
    if (status < 200) return;
    const out = [];
    for (const name in headers) {
      if (HOP_BY_HOP.has(name)) continue;
      const value = headers[name];
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, value);
    }
    this.res.writeHead(status, out);
    if (/^text\/event-stream/i.test(headers["content-type"] ?? "")) this.res.flushHeaders();
  }
  onResponseData(controller, chunk) {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError(_controller, _err) {
    if (!this.res.headersSent) this.res.writeHead(502).end();
    else this.res.destroy();
  }
  clientClosed() {
    if (this.res.writableFinished) return;
    this.gone = true;
    this.controller?.abort(new Error("client went away"));
  }
}

createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const slash = req.url.indexOf("/", 1);
  const pool = pools.get(req.url.slice(1, slash < 0 ? undefined : slash));
  if (pool === undefined) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (body.length > 0) {
      try {
        JSON.parse(body.toString("utf8"));
      } catch {
        res.writeHead(400).end();
        return;
      }
    }
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (!HOP_BY_HOP.has(name) && name !== "content-length") headers.push(raw[i], raw[i + 1]);
    }
    const relay = new Relay(res);
    res.on("close", () => relay.clientClosed());
    pool.dispatch({ path: req.url, method: req.method, headers, body: body.length > 0 ? body : null }, relay);
  });
}).listen(Number(port), "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ msg: "listening" })}\n`));
