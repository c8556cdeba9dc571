import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
} from "@modelcontextprotocol/sdk/types.js";
import { SwitchyardError } from "../errors.js";
import { readBody } from "../gateway/read-body.js";
import { hashId } from "../observability/hash.js";
import { haSpan } from "../observability/tracing.js";
import { isEventStream } from "../protocol/headers.js";
import { responseTo } from "../protocol/jsonrpc.js";
import { connectSoon, newRedisClient, type RedisOptions } from "../redis/client.js";
import { forwardTo, HOP_HEADER, listening, STOPPING_HEADER } from "./forward.js";
import { RedisEventStore, type RedisEventStoreOptions } from "./redis-event-store.js";
import { haSessionId, NODE_HEADER } from "./session-id.js";
import { type SessionEntry, SessionRegistry } from "./session-registry.js";

export interface HaOptions {
  /** A fresh SDK v1 server (`McpServer` or `Server`) for one session. */
  createServer: () => McpServer | Server;
  /**
   * The shared Redis: a `redis://` URL (`redis+sentinel://S1,S2/NAME` for Sentinel) or connection options
   * (`{ url: "", cluster: [NODE URLS] }` for a Redis Cluster).
   */
  redis: string | RedisOptions;
  /** This node's name, unique among the nodes (1-64 of A-Za-z0-9-); session ids carry it as a hint. */
  nodeId: string;
  /** Where the other nodes reach this one (`http://10.0.0.5:3000`): forwarded requests keep their path. */
  advertiseUrl: string;
  /** Namespace of the Redis keys (default `swy:ha:`). */
  prefix?: string;
  /** How often the node says it is alive (ms, default 500); it is taken for dead after `nodeTtlMs` (2000). */
  heartbeatMs?: number;
  nodeTtlMs?: number;
  /** A session unused this long is forgotten (ms, default 30 min). */
  sessionTtlMs?: number;
  /** The SSE `retry:` hint for clients whose stream broke (ms, default 500). */
  retryInterval?: number;
  eventStore?: RedisEventStoreOptions;
  /**
   * Opt in: a `tools/call` that a dead node had in flight is run again by the adopter, instead of the
   * "outcome unknown" error, when the tool is annotated `idempotentHint: true` (running it twice is
   * harmless). The request is then kept in Redis while in flight.
   */
  retryIdempotentTools?: boolean;
  /** Largest request body accepted (bytes, default 4 MiB; larger → 413). */
  maxBodyBytes?: number;
  /** On `drain()`, how long requests in flight may take to finish before the sessions are handed over (ms, default 10 s). */
  drainGraceMs?: number;
}

export interface HaHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Resolves once Redis is reachable and the node has announced itself. */
  readonly ready: Promise<void>;
  /** Sessions this node serves. */
  sessions(): number;
  /** Hand every session over to the other nodes (their next request is adopted elsewhere) and stop. */
  drain(): Promise<void>;
  /** Stop at once (the sessions' owner is then taken for dead after `nodeTtlMs`). */
  close(): Promise<void>;
}

/** The error an adopting node answers for a request its dead owner had in flight. */
export const OUTCOME_UNKNOWN = {
  code: -32003,
  message:
    "The replica serving this request stopped before answering: its outcome is unknown (it may or may not have taken effect)",
  data: { code: "SWY_HA_OUTCOME_UNKNOWN" },
} as const;

interface Local {
  /** The client's `initialize` request, to register the session again if Redis lost it. */
  init: unknown;
  /** The session's events (the transport's event store). */
  store: RedisEventStore;
  createdAt: number;
  transport: StreamableHTTPServerTransport;
  server: McpServer | Server;
  /** In-flight bookkeeping in order (a fast answer must not be recorded before its request). */
  chain: Promise<unknown>;
  /** The tools the server annotates idempotent, once asked. */
  idempotent?: Promise<Set<string>>;
}

/** SDK 1.x internals this library relies on (pinned by its tests). */
interface WebTransport {
  handleRequest(req: Request): Promise<Response>;
  _requestToStreamMapping: Map<string | number, string>;
  _resumableStreams: Set<string>;
}
const web = (t: StreamableHTTPServerTransport) =>
  (t as unknown as { _webStandardTransport: WebTransport })._webStandardTransport;

function jsonError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}

/**
 * A request of the node's own making, through the session's transport (replaying `initialize`, asking
 * for the tools): the whole answer. `session` adds the session's headers.
 */
async function internalPost(
  inner: WebTransport,
  message: unknown,
  session?: { id: string; protocolVersion: string },
): Promise<{ body: Buffer; sse: boolean }> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  if (session) {
    headers["mcp-session-id"] = session.id;
    headers["mcp-protocol-version"] = session.protocolVersion;
  }
  const answer = await inner.handleRequest(
    new Request("http://ha.invalid/mcp", { method: "POST", headers, body: JSON.stringify(message) }),
  );
  return {
    body: Buffer.from(await answer.arrayBuffer()),
    sse: isEventStream(answer.headers.get("content-type") ?? undefined),
  };
}

/** The session's headers for `internalPost`: its id, and the protocol version its `initialize` asked for. */
function sessionOf(id: string, init: unknown): { id: string; protocolVersion: string } {
  const version = (init as { params?: { protocolVersion?: string } } | undefined)?.params?.protocolVersion;
  return { id, protocolVersion: version ?? "2025-03-26" };
}

const NODE_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * A Node `(req, res)` handler that hosts a stateful SDK v1 server on many replicas: one server and
 * Streamable HTTP transport per session, a session registry and the events in Redis. A request for a
 * session that another live node owns is forwarded there; one whose owner is dead is adopted — one node
 * wins an atomic claim, rebuilds the server in the initialized state from the stored `initialize`
 * request, answers each request the dead node had in flight with an explicit error (outcome unknown),
 * and serves on; the client resumes its streams from the shared event store with `Last-Event-ID`.
 */
export function createHaHandler(options: HaOptions): HaHandler {
  if (!NODE_ID.test(options.nodeId)) throw new Error("nodeId: 1-64 of A-Za-z0-9-");
  const me = options.nodeId;
  const prefix = options.prefix ?? "swy:ha:";
  const heartbeatMs = options.heartbeatMs ?? 500;
  const nodeTtlMs = options.nodeTtlMs ?? 2000;
  const sessionTtlMs = options.sessionTtlMs ?? 30 * 60_000;
  const redisOptions = typeof options.redis === "string" ? { url: options.redis } : options.redis;
  const client = newRedisClient({ commandTimeoutMs: 2000, ...redisOptions });
  const registry = new SessionRegistry(client, prefix, sessionTtlMs);
  const local = new Map<string, Local>();
  const adopting = new Map<string, Promise<Local>>();
  let stopped = false;
  /** Draining: no new session starts here; the sessions here are served until they are handed over. */
  let draining = false;
  /** Requests being answered on this node (for a graceful drain). */
  let answering = 0;

  const beat = () => registry.heartbeat(me, options.advertiseUrl, nodeTtlMs).catch(() => {});
  const ready = connectSoon(client.connect(), 5000).then(beat);
  // A Redis that restarted empty has forgotten this node's sessions: put them back (first come wins).
  /**
   * Since when this node has had Redis (started, or reconnected after a restart or a failover). Until
   * a heartbeat's TTL has passed since then, a missing heartbeat proves nothing: every node lost Redis
   * together and the others may not have beaten again yet.
   */
  let connectedAt = Date.now();
  client.on("ready", () => {
    connectedAt = Date.now();
    beat();
    for (const [id, s] of local) registry.restore(id, me, s.init, s.createdAt).catch(() => {});
  });
  const heartbeat = setInterval(beat, heartbeatMs);
  heartbeat.unref();
  const renew = setInterval(
    () => {
      for (const id of local.keys()) registry.touch(id).catch(() => {});
    },
    Math.min(sessionTtlMs / 4, 60_000),
  );
  renew.unref();

  /** One session's server and transport, its requests in flight recorded in Redis. */
  async function host(id: string, init: unknown, onInitialized?: (id: string) => Promise<void>): Promise<Local> {
    const server = options.createServer();
    const entry: Local = {
      init,
      store: new RedisEventStore(client, id, { prefix, ...options.eventStore }),
      createdAt: Date.now(),
      transport: undefined as unknown as StreamableHTTPServerTransport,
      server,
      chain: Promise.resolve(),
    };
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      eventStore: entry.store,
      retryInterval: options.retryInterval ?? 500,
      ...(onInitialized ? { onsessioninitialized: onInitialized } : {}),
      onsessionclosed: async (closed) => {
        local.delete(closed);
        await registry.forget(closed).catch(() => {});
      },
    });
    entry.transport = transport;
    transport.onclose = () => {
      if (local.get(id) === entry) local.delete(id);
    };
    await server.connect(transport);
    const inner = web(transport);
    const receive = transport.onmessage;
    const record = (work: () => Promise<unknown>) => {
      entry.chain = entry.chain.then(work).catch(() => {});
    };
    const keep = options.retryIdempotentTools === true;
    transport.onmessage = (message, extra) => {
      if (isJSONRPCRequest(message) && message.method !== "initialize") {
        const streamId = inner._requestToStreamMapping.get(message.id);
        const request = keep && message.method === "tools/call" ? message : undefined;
        if (streamId !== undefined) record(() => registry.requestStarted(id, message.id, streamId, request));
        answering++;
      }
      receive?.call(transport, message, extra);
    };
    const send = transport.send.bind(transport);
    transport.send = async (message: JSONRPCMessage, sendOptions) => {
      await send(message, sendOptions);
      if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
        const answered = message.id;
        if (answered !== undefined && answered !== null) record(() => registry.requestEnded(id, answered));
        answering = Math.max(0, answering - 1);
      }
    };
    return entry;
  }

  async function newSession(req: IncomingMessage, res: ServerResponse, parsed: unknown): Promise<void> {
    const id = haSessionId(me);
    const init = (Array.isArray(parsed) ? parsed.find(isInitializeRequest) : parsed) as unknown;
    const entry = await host(id, init, async (sid) => {
      // Routable from every node before the client learns the id.
      await registry.register(sid, me, init);
      local.set(sid, entry);
    });
    await entry.transport.handleRequest(req, res, parsed);
  }

  /** Rebuild a session in its initialized state, from the stored `initialize` (no re-initialize). */
  async function adopt(id: string, session: SessionEntry): Promise<Local> {
    const init = JSON.parse(session.init) as { params?: { protocolVersion?: string } };
    const entry = await host(id, init);
    const inner = web(entry.transport);
    const asSession = sessionOf(id, init);
    await internalPost(inner, init);
    await internalPost(inner, { jsonrpc: "2.0", method: "notifications/initialized" }, asSession);
    // What the dead owner had in flight gets an answer on its stream: outcome unknown, never silence —
    // or, for an idempotent tool when the author opted in, the answer of running it again.
    const answeredHere = lostForwards.get(id);
    const inFlight = (await registry.takeInFlight(id)).filter((f) => !answeredHere?.has(f.requestId));
    lostForwards.delete(id);
    const idempotent = inFlight.some((f) => f.request) ? await idempotentOf(entry) : new Set<string>();
    local.set(id, entry);
    for (const { requestId, streamId, request } of inFlight) {
      const tool = (request as { params?: { name?: unknown } } | undefined)?.params?.name;
      if (typeof tool === "string" && idempotent.has(tool)) {
        // Run it again, answering on the stream it began on: stored for the client's Last-Event-ID
        // resumption, and written live once the client has resumed here.
        inner._requestToStreamMapping.set(requestId, streamId);
        inner._resumableStreams.add(streamId);
        entry.transport.onmessage?.(request as JSONRPCMessage);
      } else {
        await entry.store.storeEvent(streamId, { jsonrpc: "2.0", id: requestId, error: { ...OUTCOME_UNKNOWN } });
      }
    }
    return entry;
  }

  /** The tools the server annotates `idempotentHint: true`, asked once through the adopted session itself. */
  function idempotentOf(entry: Local): Promise<Set<string>> {
    entry.idempotent ??= (async () => {
      const session = sessionOf(entry.transport.sessionId as string, entry.init);
      const id = "switchyard-ha-tools";
      const answer = await internalPost(web(entry.transport), { jsonrpc: "2.0", id, method: "tools/list" }, session);
      const result = responseTo(answer.body, answer.sse, id)?.result as
        | { tools?: Array<{ name: string; annotations?: { idempotentHint?: boolean } }> }
        | undefined;
      return new Set((result?.tools ?? []).filter((t) => t.annotations?.idempotentHint === true).map((t) => t.name));
    })();
    return entry.idempotent;
  }

  /** Requests whose forward to a dead owner broke, answered by the node that forwarded them (per session). */
  const lostForwards = new Map<string, Set<string | number>>();

  /**
   * The forward to the session's owner broke after the request went out, before any answer: the owner
   * may have run it. If its process is gone, this node adopts the session and answers here what the
   * client sent — an idempotent tool (when the author opted in) is run again, anything else gets
   * "outcome unknown"; the same error if the owner may still be there. Never run twice unasked.
   */
  async function answerLost(req: IncomingMessage, res: ServerResponse, sid: string, url: string, body?: Buffer) {
    const parsed = parse(body);
    const value = parsed.ok ? parsed.value : undefined;
    const requests = (Array.isArray(value) ? value : [value]).filter(isJSONRPCRequest);
    if (requests.length === 0) return jsonError(res, 502, -32000, "Session owner unreachable");
    const session = await registry.lookup(sid);
    if (session && session.owner !== me && !(await listening(url))) {
      const ids = lostForwards.get(sid) ?? new Set();
      for (const r of requests) ids.add(r.id);
      lostForwards.set(sid, ids);
      const winner = await registry.claim(sid, session.owner, me, true);
      if (winner !== me) lostForwards.delete(sid);
      const entry = winner === me ? await adoptOnce(sid, session, req.headers) : undefined;
      if (entry && options.retryIdempotentTools === true) {
        const idempotent = await idempotentOf(entry);
        const rerun = requests.every((r) => r.method === "tools/call" && idempotent.has(String(r.params?.name)));
        if (rerun) return entry.transport.handleRequest(req, res, value);
      }
    }
    const errors = requests.map((r) => ({ jsonrpc: "2.0", id: r.id, error: { ...OUTCOME_UNKNOWN } }));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(Array.isArray(value) ? errors : errors[0]));
  }

  /** Adopt once per node, however many requests arrive for the session meanwhile. */
  function adoptOnce(id: string, session: SessionEntry, incoming: IncomingMessage["headers"] = {}): Promise<Local> {
    let pending = adopting.get(id);
    if (!pending) {
      const span = haSpan("mcp session adopt", "internal", incoming, { "mcp.session.id": hashId(id) });
      pending = adopt(id, session)
        .then(
          (entry) => {
            span?.end();
            return entry;
          },
          (err: unknown) => {
            span?.end("adoption_failed");
            throw err;
          },
        )
        .finally(() => adopting.delete(id));
      adopting.set(id, pending);
    }
    return pending;
  }

  /**
   * Where another node's sessions were last found: no Redis round trip per forwarded request within
   * `OWNER_CACHE_MS`, and the way on while Redis cannot be asked.
   */
  const owners = new Map<string, { url: string; at: number }>();
  const OWNER_CACHE_MS = 1000;

  function parse(body: Buffer | undefined): { ok: true; value: unknown } | { ok: false } {
    if (body === undefined) return { ok: true, value: undefined };
    try {
      return { ok: true, value: JSON.parse(body.toString("utf8")) };
    } catch {
      return { ok: false };
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader(NODE_HEADER, me);
    if (stopped) {
      res.setHeader(STOPPING_HEADER, "1");
      return jsonError(res, 503, -32000, "This replica is shutting down; retry");
    }
    const raw = req.headers["mcp-session-id"];
    const sid = typeof raw === "string" ? raw : undefined;
    let body: Buffer | undefined;
    if (req.method === "POST") {
      try {
        body = await readBody(req, options.maxBodyBytes ?? 4 * 1024 * 1024);
      } catch (err) {
        if (err instanceof SwitchyardError) return jsonError(res, 413, -32600, "Request body too large");
        throw err;
      }
    }
    const forwarded = req.headers[HOP_HEADER] !== undefined;
    // Served here: the body is the transport's to read.
    const serve = (entry: Local) => {
      const parsed = parse(body);
      if (!parsed.ok) return jsonError(res, 400, -32700, "Parse error");
      return entry.transport.handleRequest(req, res, parsed.value);
    };
    if (sid === undefined) {
      const parsed = parse(body);
      if (!parsed.ok) return jsonError(res, 400, -32700, "Parse error");
      const value = parsed.value;
      const isInit = Array.isArray(value) ? value.some(isInitializeRequest) : isInitializeRequest(value);
      if (req.method === "POST" && isInit) {
        if (draining) return jsonError(res, 503, -32000, "This replica is shutting down; retry");
        return newSession(req, res, value);
      }
      return jsonError(res, 400, -32000, "Bad Request: No valid session ID provided");
    }
    const here = local.get(sid) ?? (await adopting.get(sid));
    if (here) return serve(here);
    // Another node's session, seen a moment ago: straight there (the body passes as it came).
    const known = forwarded ? undefined : owners.get(sid);
    const fresh = known !== undefined && Date.now() - known.at < OWNER_CACHE_MS;
    if (known && fresh) {
      const result = await forwardTo(known.url, req, body, res);
      if (result === "forwarded") return;
      if (result === "lost") return answerLost(req, res, sid, known.url, body);
    }
    let session: Awaited<ReturnType<typeof registry.lookup>>;
    try {
      session = await registry.lookup(sid);
    } catch {
      // Redis unreachable (a primary failing over): a session forwarded from here before goes where it
      // went; the rest are told to retry.
      if (known && !fresh) {
        const result = await forwardTo(known.url, req, body, res);
        if (result === "forwarded") return;
        if (result === "lost") return answerLost(req, res, sid, known.url, body);
      }
      res.setHeader("retry-after", "1");
      return jsonError(res, 503, -32000, "The session registry (Redis) is unreachable; retry");
    }
    owners.delete(sid);
    if (!session) return jsonError(res, 404, -32001, "Session not found");
    let owner = session.owner;
    let force = false;
    for (let hop = 0; owner !== me && hop < 2; hop++) {
      const url = owner === "" || forwarded ? undefined : await registry.nodeUrl(owner);
      if (url === undefined && owner !== "" && !forwarded && !force && Date.now() - connectedAt < nodeTtlMs) {
        res.setHeader("retry-after", "1");
        return jsonError(
          res,
          503,
          -32000,
          "Redis just came back: the session's replica may not have checked in yet; retry",
        );
      }
      if (url !== undefined && !force) {
        if (owners.size >= 10_000) owners.clear();
        owners.set(sid, { url, at: Date.now() });
        const result = await forwardTo(url, req, body, res);
        if (result === "forwarded") return;
        owners.delete(sid);
        if (result === "lost") return answerLost(req, res, sid, url, body);
        force = true; // its port refused the connection: the process is gone
      }
      const winner = await registry.claim(sid, owner, me, force || url === undefined);
      if (winner === undefined) return jsonError(res, 404, -32001, "Session not found");
      if (winner === owner) return jsonError(res, 503, -32000, "The session's replica is busy; retry");
      owner = winner;
      force = false;
    }
    if (owner !== me) return jsonError(res, 503, -32000, "The session moved; retry");
    return serve(await adoptOnce(sid, session, req.headers));
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((err: { code?: string }) => {
      // Redis failed under the request (no primary while one is elected, or it hangs): retry soon.
      if (err?.code === "ERR_REDIS_TIMEOUT" || !client.isReady) {
        if (!res.headersSent) res.setHeader("retry-after", "1");
        return jsonError(res, 503, -32000, "The session registry (Redis) is unreachable; retry");
      }
      jsonError(res, 500, -32603, "Internal error");
    });
  }) as HaHandler;

  async function stop(handOver: boolean): Promise<void> {
    if (stopped || draining) return;
    draining = true;
    if (handOver) {
      // No new session starts here; requests under way may finish, within the grace.
      const deadline = Date.now() + (options.drainGraceMs ?? 10_000);
      while (answering > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    stopped = true;
    clearInterval(heartbeat);
    clearInterval(renew);
    const sessions = [...local.entries()];
    local.clear();
    if (handOver) await Promise.all(sessions.map(([id]) => registry.release(id, me).catch(() => {})));
    await registry.leave(me).catch(() => {});
    await Promise.all(sessions.map(([, s]) => s.transport.close().catch(() => {})));
    if (client.isOpen) await client.close().catch(() => {});
  }

  Object.assign(handler, {
    ready,
    sessions: () => local.size,
    drain: () => stop(true),
    close: () => stop(false),
  });
  return handler;
}
