import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SwitchyardError } from "../errors.js";
import { serveVirtual } from "../federation/serve.js";
import { hasSubscribers, publish } from "../observability/events.js";
import { hashId } from "../observability/hash.js";
import { RequestTrace } from "../observability/request-trace.js";
import { tracingOn } from "../observability/tracing.js";
import { classify } from "../protocol/classify.js";
import { isValidSessionId } from "../protocol/headers.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../protocol/json-depth.js";
import { parseBody, type RpcMessage } from "../protocol/jsonrpc.js";
import { admit } from "./admit.js";
import { admitTenant, tenantQuotas } from "./admit-tenant.js";
import { authenticateBearer, checkScopes, exchangeForUpstream } from "./authorize.js";
import { createContext, type RequestContext, routeName } from "./context.js";
import { cors } from "./cors-stage.js";
import { serveOwnEndpoints } from "./endpoints.js";
import { forward } from "./forward.js";
import { checkHttp } from "./http-checks.js";
import { serveFromCache } from "./list-cache-stage.js";
import { matchRoute } from "./match-route.js";
import { admitOnConnection } from "./pipelining.js";
import { readBody } from "./read-body.js";
import { respondError, respondThrown } from "./respond.js";
import { routeRequest } from "./route.js";
import type { GatewayState } from "./state.js";
import { holdStream } from "./streams.js";

/**
 * The pipeline, in the one order that holds for every request:
 *   one more on its connection (pipelining bound) → HTTP checks (header count, Host, Transfer-Encoding)
 *   → own endpoints → match route → CORS (preflights answered) → (tenant servers: authenticate, rate)
 *   → (protected routes: bearer token) → admit → read body → classify → (protected routes: scopes)
 *   → (tenant servers: session and stream quotas) → list cache → then by the route's kind: a virtual
 *   server answers itself (`federation/serve.ts`); a proxied route: route → (token exchange) → forward
 *   (→ learn, and keep cacheable answers, on the way back).
 * Each stage reads and extends the request context; a refusal is a thrown `SwitchyardError`.
 */
async function run(ctx: RequestContext, gw: GatewayState): Promise<void> {
  ctx.lane = admitOnConnection(ctx.req.socket, ctx.res);
  const malformed = checkHttp(ctx.req);
  if (malformed) throw malformed;
  if (serveOwnEndpoints(ctx, gw)) {
    // The gateway's own endpoints (health, metrics, discovery) are not MCP requests: not traced.
    ctx.trace = undefined;
    return;
  }
  matchRoute(ctx, gw);
  if (cors(ctx, gw)) return;
  if (ctx.tenantPath) {
    const admitting = admitTenant(ctx, gw);
    if (admitting) await admitting;
  }
  const auth = ctx.pool?.auth ?? ctx.virtual?.auth;
  if (auth) await authenticateBearer(ctx, gw, auth);
  admit(ctx, gw);
  if (ctx.req.method === "POST") {
    const limit = gw.config.limits.maxBodyBytes;
    ctx.body = await readBody(ctx.req, ctx.quotas ? Math.min(limit, ctx.quotas.maxBodyBytes) : limit);
    ctx.messages = parseMessages(ctx);
  }
  ctx.info = classify(ctx.req.method ?? "GET", ctx.req.headers, ctx.messages);
  if (ctx.endpoint !== "mcp")
    ctx.info.sessionId = ctx.endpoint === "messages" ? messageSessionId(ctx.query) : undefined;
  ctx.trace?.begin({
    message: ctx.messages[0],
    sessionId: ctx.info.sessionId,
    protocolVersion: ctx.info.protocolVersion,
    era: ctx.info.era,
    route: routeName(ctx),
  });
  if (auth) checkScopes(ctx, auth);
  if (ctx.tenant !== undefined) await tenantQuotas(ctx, gw);
  if (ctx.info.longLived) {
    const holding = holdStream(ctx, gw);
    if (holding) await holding;
  }
  // Both kinds share the list cache: a fresh answer goes out before either goes further.
  if (serveFromCache(ctx, gw)) return;
  // The last stage, by the route's kind: a virtual server answers as the server; a proxied route goes upstream.
  if (ctx.virtual) return serveVirtual(ctx, gw, ctx.virtual);
  const routing = routeRequest(ctx, gw);
  if (routing) await routing;
  if (auth?.exchange) await exchangeForUpstream(ctx, gw, auth);
  forward(ctx, gw);
}

/**
 * The body's JSON-RPC messages, or a refusal: not UTF-8 (RFC 8259; the gateway would classify a text
 * with U+FFFD where the replica, given the same bytes, may read something else), not JSON, not
 * JSON-RPC, or nested deeper than `MAX_JSON_DEPTH`.
 */
function parseMessages(ctx: RequestContext): RpcMessage[] {
  const body = ctx.body as Buffer;
  const text = isUtf8(body) ? body.toString("utf8") : undefined;
  const parsed = text === undefined ? undefined : parseBody(text);
  // A body shorter than twice the depth cannot nest that deep: no second pass over it.
  const tooDeep = body.length > 2 * MAX_JSON_DEPTH && nestsDeeperThan(text as string, MAX_JSON_DEPTH);
  if (parsed?.ok && !tooDeep) return parsed.messages;
  ctx.info = classify("POST", ctx.req.headers);
  if (parsed === undefined) throw new SwitchyardError("SWY_PARSE_ERROR", { detail: "not UTF-8" });
  if (parsed.ok) {
    ctx.info.rpcId = parsed.messages.find((m) => m.kind === "request")?.id ?? null;
    throw new SwitchyardError("SWY_INVALID_REQUEST", { detail: `nested deeper than ${MAX_JSON_DEPTH} levels` });
  }
  ctx.info.rpcId = parsed.id;
  throw new SwitchyardError(parsed.reason === "parse" ? "SWY_PARSE_ERROR" : "SWY_INVALID_REQUEST");
}

/** An HTTP+SSE message URL names its session in the query (`?sessionId=`), not in a header. */
function messageSessionId(query: string): string {
  const id = new URLSearchParams(query).get("sessionId");
  if (id === null || !isValidSessionId(id)) throw new SwitchyardError("SWY_BAD_SESSION_ID");
  return id;
}

/** The response closed (finished, or the client left): release what the request held, then log. */
function closed(ctx: RequestContext, gw: GatewayState): void {
  ctx.lane?.delete(ctx.res);
  if (ctx.inFlight) gw.inFlight.leave();
  if (ctx.stream) gw.streams.give();
  if (ctx.tenantStream) gw.tenancy?.giveStream(ctx.tenant as string);
  ctx.exchange?.clientClosed();
  const durationMs = performance.now() - ctx.startedAt;
  const upstreamMs = ctx.upstreamMs;
  // A virtual server's requests count under its name, as a route's do.
  const route = routeName(ctx);
  if (route !== undefined) gw.traffic.record(route, ctx.res.statusCode);
  gw.metrics?.requestDone(
    route,
    ctx.req.method ?? "",
    ctx.res.statusCode,
    durationMs / 1000,
    ctx.code,
    upstreamMs === undefined ? undefined : upstreamMs / 1000,
  );
  const traced = ctx.trace;
  traced?.end({
    status: ctx.res.statusCode,
    route,
    tenant: ctx.tenant,
    replica: ctx.replica?.id,
    code: ctx.code,
    aborted: !ctx.res.writableFinished,
  });
  if (!hasSubscribers("request")) return;
  const sid = ctx.info?.sessionId;
  publish("request", {
    method: ctx.req.method ?? "",
    path: ctx.path,
    route,
    status: ctx.res.statusCode,
    durationMs: Math.round(durationMs * 10) / 10,
    rpcMethod: ctx.info?.rpcMethod,
    toolName: ctx.info?.toolName,
    // Hashed only if a subscriber reads it (the log does; metrics do not).
    get session() {
      return sid === undefined ? undefined : hashId(sid);
    },
    replica: ctx.replica?.id,
    tenant: ctx.tenant,
    upstreamMs: upstreamMs === undefined ? undefined : Math.round(upstreamMs * 10) / 10,
    code: ctx.code,
    aborted: !ctx.res.writableFinished,
    traceId: traced?.traceId,
  });
}

const noop = () => {};

/** A request's context, accounted for (counted, logged, its holdings released) once its response closes. */
function begin(req: IncomingMessage, res: ServerResponse, gw: GatewayState): RequestContext {
  req.on("error", noop);
  res.on("error", noop);
  const ctx = createContext(req, res);
  // A response closes once.
  res.on("close", () => closed(ctx, gw));
  return ctx;
}

/** `current()`: the gateway's state when the request arrives (a reload swaps it; the request keeps its own). */
export function createHandler(current: () => GatewayState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const gw = current();
    const ctx = begin(req, res, gw);
    if (tracingOn()) ctx.trace = new RequestTrace(req.method ?? "", ctx.path, req.headers);
    if (req.method !== "GET") {
      gw.inFlight.enter();
      ctx.inFlight = true;
    }
    run(ctx, gw).catch((err) => respondThrown(ctx, err));
  };
}

/**
 * The handler of a listener that serves the gateway's own endpoints only (`serve`), anything else 404:
 * the operations listener (`ops.listen`, `serveOpsEndpoints`) or the console's (`console.listen`,
 * `serveConsoleEndpoints`). Its requests are counted and logged as the public listener's are (a proxy's
 * health checks, a scrape, an admin call).
 */
export function createOwnHandler(
  current: () => GatewayState,
  serve: (ctx: RequestContext, gw: GatewayState) => boolean,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const gw = current();
    const ctx = begin(req, res, gw);
    try {
      if (!serve(ctx, gw)) respondError(ctx, new SwitchyardError("SWY_ROUTE_NOT_FOUND"));
    } catch (err) {
      respondThrown(ctx, err);
    }
  };
}
