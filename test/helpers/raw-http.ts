import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import { connect as netConnect } from "node:net";
import { INSPECT, Inspector } from "./inspector.js";
import { connect, INIT_BODY } from "./mcp.js";
import { type GatewayProc, type Replica, startGateway, startReplica, svcConfig } from "./procs.js";

/** One HTTP response read off a raw socket. */
export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Where the response ends in the text it was parsed from. */
  end: number;
}

export interface WireReply {
  /** Every complete response, in order (interim 1xx included). */
  responses: WireResponse[];
  /** The gateway closed the connection (FIN or reset) before the wait ended. */
  closed: boolean;
  /** Nothing decided the wait: it ran out with the connection still open. */
  timedOut: boolean;
  ms: number;
  /** Everything received, as latin1 text. */
  raw: string;
}

/**
 * Complete responses at the start of `text` (latin1): a status line, headers, then a body framed by
 * Content-Length or chunked encoding (HEAD answers and 1xx/204/304 have none). Stops at the first one
 * not yet complete.
 */
export function parseResponses(text: string, head = false): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return out;
    const [statusLine = "", ...lines] = text.slice(at, end).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    if (!Number.isFinite(status)) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let p = end + 4;
    let body = "";
    if (status < 200 || status === 204 || status === 304 || head) {
      // no body
    } else if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
      for (;;) {
        const eol = text.indexOf("\r\n", p);
        if (eol < 0) return out;
        const size = Number.parseInt(text.slice(p, eol), 16);
        if (text.length < eol + 2 + size + 2) return out;
        body += text.slice(eol + 2, eol + 2 + size);
        p = eol + 2 + size + 2;
        if (size === 0) break;
      }
    } else if (headers["content-length"] !== undefined) {
      const size = Number(headers["content-length"]);
      if (text.length < p + size) return out;
      body = text.slice(p, p + size);
      p += size;
    } else {
      // Delimited by the close: complete only once nothing more can come.
      return out;
    }
    out.push({ status, headers, body, end: p });
    at = p;
  }
}

/**
 * Write `data` to `port` over a fresh TCP connection (nothing client-side checks or fixes it) and read
 * what comes back until `done(responses)` says enough, the gateway closes, or `waitMs` runs out.
 * `end: true` half-closes after writing (a client that stops sending). The socket is always destroyed.
 */
export function exchange(
  port: number,
  data: string | Buffer,
  options: {
    waitMs?: number;
    /** Enough: given the complete responses so far, and everything received (latin1). */
    done?: (responses: WireResponse[], raw: string) => boolean;
    /** Once done, read on this long before deciding (an answer that should not come would show). */
    lingerMs?: number;
    end?: boolean;
    head?: boolean;
  } = {},
): Promise<WireReply> {
  const { waitMs = 5000, done, lingerMs = 0, end = false, head = false } = options;
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = netConnect(port, "127.0.0.1");
    let raw = "";
    // Parsed as it arrives (a flood's answers are megabytes): complete responses, and the rest.
    const responses: WireResponse[] = [];
    let pending = "";
    let pendingAt = 0;
    const parseMore = () => {
      let used = 0;
      for (const r of parseResponses(pending, head)) {
        used = r.end;
        r.end += pendingAt;
        responses.push(r);
      }
      pending = pending.slice(used);
      pendingAt += used;
    };
    let settled = false;
    let lingering = false;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      parseMore();
      resolve({ responses, closed, timedOut, ms: performance.now() - started, raw });
    };
    let timer = setTimeout(() => finish(false, true), waitMs);
    socket.on("data", (d: Buffer) => {
      const text = d.toString("latin1");
      raw += text;
      pending += text;
      if (!done || lingering) return;
      parseMore();
      if (!done(responses, raw)) return;
      if (lingerMs === 0) return finish(false, false);
      lingering = true;
      clearTimeout(timer);
      timer = setTimeout(() => finish(false, false), lingerMs);
    });
    socket.on("close", () => finish(true, false));
    socket.on("error", () => finish(true, false));
    socket.write(data);
    if (end) socket.end();
  });
}

/** One request the upstream received, as its own HTTP parser read it. */
export interface Seen {
  method: string;
  url: string;
  /** Name and value pairs, as received. */
  rawHeaders: string[];
  /** The test's `x-fuzz-case` header, if it came through. */
  tag: string | undefined;
  /** The gateway's own traffic (health checks, discovery), told by its User-Agent. */
  internal: boolean;
}

export interface CountingProxy {
  /** `http://127.0.0.1:PORT` + the target's path: give this to the gateway as the replica. */
  url: string;
  seen: Seen[];
  /** Parse errors of the proxy's own HTTP server: bytes from the gateway that are not HTTP. */
  clientErrors: string[];
  /** Most requests open at once since the last `resetMax()`. */
  maxInFlight: number;
  /** Why the proxy cut a request it could not pass on (its own connection to the replica failed). */
  upstreamErrors: string[];
  resetMax(): void;
  close(): Promise<void>;
}

/**
 * A reverse proxy in front of a replica that records every request its (Node) HTTP parser reads on the
 * way in, then passes it on. A request the gateway let through hidden in another one would show up
 * here as a request of its own, or as a parse error.
 */
export async function countingProxy(target: string): Promise<CountingProxy> {
  const up = new URL(target);
  const agent = new Agent({ keepAlive: true });
  let inFlight = 0;
  const proxy: CountingProxy = {
    url: "",
    seen: [],
    clientErrors: [],
    maxInFlight: 0,
    upstreamErrors: [],
    resetMax() {
      proxy.maxInFlight = inFlight;
    },
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const tag = req.headers["x-fuzz-case"];
    proxy.seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      rawHeaders: req.rawHeaders,
      tag: typeof tag === "string" ? tag : undefined,
      internal: String(req.headers["user-agent"] ?? "").startsWith("switchyard-"),
    });
    inFlight++;
    proxy.maxInFlight = Math.max(proxy.maxInFlight, inFlight);
    // A request is done once its whole answer is here, before the proxy passes its last bytes on: the
    // gateway cannot have the answer (and send the next request) sooner. (Counting until the response's
    // `close` counted requests the gateway was already done with, on a busy machine.)
    let done = false;
    const settle = () => {
      if (!done) inFlight--;
      done = true;
    };
    res.once("close", settle);
    // The gateway sends whole bodies: the proxy takes the body in before passing it on, so that it can
    // send it again on a new connection when the replica closed the reused one just as it was picked
    // (Node's keep-alive race: the answer would be a reset the gateway never caused).
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const send = (retry: boolean) => {
        const upstream = request(
          { host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers, agent },
          (answer) => {
            answer.once("end", settle);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.flushHeaders(); // an SSE stream may say nothing for a while
            answer.pipe(res);
          },
        );
        upstream.on("error", (err: NodeJS.ErrnoException) => {
          // A reused connection the replica closed as it was picked fails as a reset, or as a broken pipe
          // when the request's bytes went out after the replica's FIN.
          const raced = err.code === "ECONNRESET" || err.code === "EPIPE";
          if (retry && upstream.reusedSocket && !res.headersSent && raced) return send(false);
          proxy.upstreamErrors.push(`${req.method} ${req.url}: ${err.code ?? err.message}`);
          res.destroy();
        });
        res.on("close", () => {
          if (!res.writableFinished) upstream.destroy();
        });
        upstream.end(body);
      };
      send(true);
    });
  });
  // The gateway's pool closes its idle connections first (it reads the Keep-Alive hint): the proxy never
  // closes one under it.
  server.keepAliveTimeout = 65_000;
  server.on("clientError", (err, socket) => {
    proxy.clientErrors.push(err.message);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  proxy.url = `http://127.0.0.1:${port}${up.pathname}`;
  return proxy;
}

/**
 * Connections that process `pid` holds on its listening `port` (Linux): its socket descriptors, found in
 * /proc/net/tcp with that local port and not listening. The server's own count of accepted connections.
 */
export function connectionsOn(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  let n = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(local) && f[3] !== "0A" && inodes.has(f[9] ?? "")) n++;
  }
  return n;
}

/** Open file descriptors of a process (Linux). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Poll `read` until `ok` holds or `timeoutMs` passes; the last value either way. */
export async function settle<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The request bytes of a POST to `path` with a JSON body (`Content-Length` framed), plus `extra` header lines. */
export function post(path: string, body: string | Buffer, extra = ""): Buffer {
  const b = typeof body === "string" ? Buffer.from(body) : body;
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${extra}Content-Length: ${b.length}\r\n\r\n`,
      "latin1",
    ),
    b,
  ]);
}

/** A gateway (route `svc`) in front of a counting proxy in front of one example replica. */
export interface FuzzRig {
  replica: Replica;
  proxy: CountingProxy;
  gateway: GatewayProc;
  /** The gateway's V8 inspector: its live heap. */
  inspector: Inspector;
  /** The gateway's port, for raw sockets. */
  port: number;
  pid: number;
  /** Opens a legacy session with raw requests; its id. */
  openSession(): Promise<string>;
  /** A real SDK client initializes, lists tools and calls one through the gateway, answered by the replica. */
  stillServes(): Promise<void>;
  /** Tagged requests the upstream received for `tag` (`x-fuzz-case`). */
  upstreamSaw(tag: string): Seen[];
  /** Requests the upstream received that the test hid inside another one (tag or path says `smuggled`). */
  smuggledSeen(): Seen[];
  stop(): Promise<void>;
}

/** Request and body timeouts of 2 s, so that stalled clients are timed out within a test. */
export async function startFuzzRig(): Promise<FuzzRig> {
  const replica = await startReplica("fuzz-replica");
  const proxy = await countingProxy(replica.url);
  // Inspected: the test reads the gateway's live heap after a full collection (`Inspector.liveHeap`).
  const gateway = await startGateway(
    ["--config", svcConfig([{ url: proxy.url }], "timeouts:\n  requestHeaders: 2s\n  requestBody: 2s\n")],
    INSPECT,
  );
  const inspector = await Inspector.attach(gateway);
  const port = Number(new URL(gateway.base).port);
  const rig: FuzzRig = {
    replica,
    proxy,
    gateway,
    inspector,
    port,
    pid: gateway.child.pid as number,
    async openSession() {
      const init = await exchange(port, post("/svc/mcp", JSON.stringify(INIT_BODY)), {
        done: (r) => r.length >= 1,
      });
      const sid = init.responses[0]?.headers["mcp-session-id"];
      if (!sid) throw new Error(`no session: ${init.raw.slice(0, 300)}`);
      const note = `{"jsonrpc":"2.0","method":"notifications/initialized"}`;
      const extra = `Mcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-11-25\r\n`;
      await exchange(port, post("/svc/mcp", note, extra), { done: (r) => r.length >= 1 });
      return sid;
    },
    async stillServes() {
      const session = await connect(gateway.route("svc"), "fuzz-check");
      try {
        const { tools } = await session.client.listTools();
        if (!tools.some((t) => t.name === "whoami")) throw new Error("tools/list lost whoami");
        const me = await session.whoami();
        if (me.replica !== "fuzz-replica" || me.sessionCalls !== 1) {
          throw new Error(`unexpected whoami: ${JSON.stringify(me)}`);
        }
      } finally {
        await session.close();
      }
    },
    upstreamSaw: (tag) => proxy.seen.filter((s) => s.tag === tag),
    smuggledSeen: () =>
      proxy.seen.filter(
        (s) => /smuggled/i.test(`${s.method} ${s.url}`) || s.rawHeaders.some((h) => /smuggled/i.test(h)),
      ),
    async stop() {
      inspector.close();
      await gateway.stop();
      await proxy.close();
      await replica.stop();
    },
  };
  return rig;
}
