import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SwitchyardError } from "../errors.js";
import { createContext, type RequestContext } from "../gateway/context.js";
import { readBody } from "../gateway/read-body.js";
import { respondJson, respondThrown } from "../gateway/respond.js";
import { publish } from "../observability/events.js";
import { hashId } from "../observability/hash.js";
import { createHostMetrics, type Metrics } from "../observability/metrics.js";
import { acceptance, isJsonContentType, isValidSessionId } from "../protocol/headers.js";
import { readMessages } from "../protocol/jsonrpc.js";
import { hostAllowed, isLoopbackAddress, type OriginHostPolicy, originAllowed } from "../security/origin-host.js";
import type { HostOptions, HostState } from "./host-state.js";
import { endSession, openSessionStream, post } from "./mcp-endpoint.js";
import { ModernPool } from "./modern-pool.js";
import { GroupFiles } from "./orphans.js";
import { Processes } from "./processes.js";
import { SseSession } from "./sse-session.js";
import type { Message } from "./stdio-child.js";

const MESSAGES_PATH = "/messages";

export interface Host {
  /** Listen; resolves with the base URL (`http://127.0.0.1:PORT`). */
  listen(): Promise<string>;
  /** Stop serving, end every session and process (and what each started). */
  close(): Promise<void>;
  readonly state: HostState;
}

function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  return { host, port: Number(listen.slice(colon + 1)) };
}

/**
 * `switchyard host`: a stdio MCP server served over HTTP — Streamable HTTP at `/mcp` (a process per
 * legacy session; a pool for the modern era), the HTTP+SSE transport at `/sse` and `/messages`, health
 * at `/healthz` and `/readyz`, metrics at `/metrics`.
 */
export function createHost(options: HostOptions): Host {
  const ledger = new GroupFiles(options.stateDir);
  const processes = new Processes(options.launch, ledger, { max: options.maxProcesses, spare: options.spare });
  const pool = new ModernPool(processes, options.pool, {
    startTimeoutMs: options.startTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    maxWaitMs: Math.max(options.startTimeoutMs, 5000),
  });
  const state: HostState = { options, processes, pool, sessions: new Map(), sseSessions: new Map(), closing: false };
  const metrics = createHostMetrics({
    processes: () => processes.counts(),
    sessions: () => state.sessions.size + state.sseSessions.size,
  });
  const { host: bindHost, port } = splitListen(options.listen);
  const policy: OriginHostPolicy = {
    loopbackListener: isLoopbackAddress(bindHost),
    allowedHosts: [],
    allowedOrigins: [],
  };
  const server: Server = createServer((req, res) => handle(req, res, state, metrics, policy));
  server.keepAliveTimeout = 65_000;
  let expiry: NodeJS.Timeout | undefined;
  return {
    state,
    async listen() {
      const { swept } = ledger.claim();
      if (swept > 0)
        publish("fault", { where: "host", code: "SWY_HOST_ORPHANS", message: `ended ${swept} left behind` });
      pool.start();
      processes.warm();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, bindHost, () => resolve());
      });
      expiry = setInterval(() => expire(state), Math.min(30_000, Math.max(1000, options.idleTtlMs / 4)));
      expiry.unref();
      const address = server.address() as AddressInfo;
      const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
      publish("lifecycle", { event: "listening", url });
      return url;
    },
    async close() {
      state.closing = true;
      clearInterval(expiry);
      server.close();
      server.closeIdleConnections();
      await Promise.all([...state.sessions.values(), ...state.sseSessions.values()].map((s) => s.end()));
      await pool.close();
      await processes.close();
      server.closeAllConnections();
      metrics.detach();
      ledger.release();
      publish("lifecycle", { event: "closed" });
    },
  };
}

/** Sessions idle past `idleTtlMs` (no request, no open stream) end with their process. */
function expire(state: HostState): void {
  const now = Date.now();
  for (const s of state.sessions.values()) {
    if (s.idle && now - s.lastActive > state.options.idleTtlMs) void s.end();
  }
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  state: HostState,
  metrics: Metrics,
  policy: OriginHostPolicy,
): void {
  const ctx = createContext(req, res);
  req.on("error", () => {});
  res.on("error", () => {});
  res.once("close", () => {
    metrics.requestDone(undefined, req.method ?? "", res.statusCode, 0, ctx.code, undefined);
    const sid = req.headers["mcp-session-id"];
    publish("request", {
      method: req.method ?? "",
      path: ctx.path,
      route: undefined,
      status: res.statusCode,
      durationMs: Math.round((performance.now() - ctx.startedAt) * 10) / 10,
      rpcMethod: ctx.messages[0]?.method,
      toolName: undefined,
      session: typeof sid === "string" ? hashId(sid) : undefined,
      tenant: undefined,
      upstreamMs: undefined,
      replica: undefined,
      code: ctx.code,
      aborted: !res.writableFinished,
    });
  });
  route(ctx, state, metrics, policy).catch((err: unknown) => respondThrown(ctx, err));
}

async function route(ctx: RequestContext, state: HostState, metrics: Metrics, policy: OriginHostPolicy): Promise<void> {
  const { req, res } = ctx;
  const method = req.method ?? "";
  if (ctx.path === "/healthz" && method === "GET") return respondJson(ctx, 200, { status: "ok" });
  if (ctx.path === "/readyz" && method === "GET") {
    const ready = !state.closing && state.pool.ready;
    return respondJson(ctx, ready ? 200 : 503, { status: ready ? "ready" : "not ready", pool: state.pool.warmth });
  }
  if (ctx.path === "/metrics" && method === "GET") {
    const text = await metrics.render();
    res.writeHead(200, { "content-type": metrics.contentType }).end(text);
    return;
  }
  if (ctx.path !== "/mcp" && ctx.path !== "/sse" && ctx.path !== MESSAGES_PATH) {
    throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
  }
  // DNS rebinding: on a loopback listener only loopback names; a browser's Origin must be this host's.
  if (!hostAllowed(req.headers.host, policy)) throw new SwitchyardError("SWY_HOST_FORBIDDEN");
  const origin = req.headers.origin;
  if (origin !== undefined && !originAllowed(origin, req.headers.host, policy)) {
    throw new SwitchyardError("SWY_ORIGIN_FORBIDDEN");
  }
  if (state.closing) throw new SwitchyardError("SWY_SHUTTING_DOWN", { headers: { "retry-after": "1" } });
  if (ctx.path === "/sse") {
    if (method !== "GET") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET" } });
    return openSse(ctx, state);
  }
  if (method === "GET" && ctx.path === "/mcp") return openSessionStream(ctx, state);
  if (method === "DELETE" && ctx.path === "/mcp") return endSession(ctx, state);
  if (method !== "POST") {
    const allow = ctx.path === "/mcp" ? "GET, POST, DELETE" : "POST";
    throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow } });
  }
  if (!isJsonContentType(req.headers["content-type"])) throw new SwitchyardError("SWY_UNSUPPORTED_MEDIA_TYPE");
  const accepts = acceptance(req.headers.accept);
  if (ctx.path === "/mcp" && !accepts.json && !accepts.sse) throw new SwitchyardError("SWY_NOT_ACCEPTABLE");
  const body = await readBody(req, state.options.maxBodyBytes);
  // Parsed once: the messages as they came go to the process, their reading decides where.
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new SwitchyardError("SWY_PARSE_ERROR");
  }
  const parsed = readMessages(value);
  if (!parsed.ok) {
    ctx.info = { rpcId: parsed.id } as never;
    throw new SwitchyardError("SWY_INVALID_REQUEST");
  }
  ctx.messages = parsed.messages;
  ctx.info = { rpcId: parsed.messages.find((m) => m.kind === "request")?.id ?? null } as never;
  const messages = (Array.isArray(value) ? value : [value]) as Message[];
  if (ctx.path === MESSAGES_PATH) return postSse(ctx, state, messages);
  return post(ctx, state, messages, parsed.messages);
}

/** GET `/sse`: an HTTP+SSE session, and a process of its own. */
function openSse(ctx: RequestContext, state: HostState): void {
  if (!acceptance(ctx.req.headers.accept).sse) throw new SwitchyardError("SWY_NOT_ACCEPTABLE_SSE");
  const id = randomUUID();
  const child = state.processes.take("session", id);
  if (child === undefined) throw new SwitchyardError("SWY_HOST_BUSY", { headers: { "retry-after": "1" } });
  const session = new SseSession(id, child, ctx.res, state.options.heartbeatMs, MESSAGES_PATH, (s) =>
    state.sseSessions.delete(s.id),
  );
  state.sseSessions.set(id, session);
}

/** POST `/messages?sessionId=`: to the session's process; the answer comes on its stream. */
function postSse(ctx: RequestContext, state: HostState, messages: Message[]): void {
  const sid = new URLSearchParams(ctx.query).get("sessionId");
  if (sid === null || !isValidSessionId(sid)) throw new SwitchyardError("SWY_BAD_SESSION_ID");
  const session = state.sseSessions.get(sid);
  if (!session?.open) throw new SwitchyardError("SWY_SESSION_NOT_FOUND");
  for (const m of messages) session.deliver(m);
  ctx.res.writeHead(202, { "content-type": "text/plain" }).end("Accepted");
}
