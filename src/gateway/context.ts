import type { IncomingMessage, ServerResponse } from "node:http";
import type { ListFilter } from "../auth/list-filter.js";
import type { TokenClaims } from "../auth/verifier.js";
import type { VirtualServer } from "../federation/virtual-server.js";
import type { RequestTrace } from "../observability/request-trace.js";
import type { Classification } from "../protocol/classify.js";
import type { RpcMessage } from "../protocol/jsonrpc.js";
import type { Quotas } from "../tenancy/registry.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { Replica } from "../upstream/replica.js";
import type { Exchange } from "./forward.js";
import type { AnswerCapture } from "./list-cache-stage.js";

/** Everything the pipeline learns about one request, stage by stage. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startedAt: number;
  /** Path without the query. */
  readonly path: string;
  /** The query string including `?`, or "". */
  readonly query: string;
  /** Who is asking: on operator routes every client is the same principal; on a tenant's, its key or JWT subject. */
  principal: string;
  /** `/TENANT/NAME/ENDPOINT`, before the caller is authenticated and the server looked up. */
  tenantPath: { tenant: string; server: string; endpoint: string } | undefined;
  /** On a protected route: the verified bearer token, and the token itself (never logged, never forwarded). */
  token: TokenClaims | undefined;
  bearer: string | undefined;
  /** The `Authorization` the upstream gets instead (a token exchanged for it). */
  upstreamAuthorization: string | undefined;
  /** A list whose items the token may see only part of: applied to the upstream's answer. */
  listFilter: ListFilter | undefined;
  /** The authenticated tenant (tenant servers only), and its quotas. */
  tenant: string | undefined;
  quotas: Quotas | undefined;
  /** Holds one of the tenant's stream slots, until the response closes. */
  tenantStream: boolean;
  /** Milliseconds from sending upstream to the response headers. */
  upstreamMs: number | undefined;
  pool: UpstreamPool | undefined;
  /** The route is a virtual server (federation): the gateway answers as the MCP server itself. */
  virtual: VirtualServer | undefined;
  /** Which endpoint of the route: `mcp` (Streamable HTTP), or HTTP+SSE's `sse` stream and `messages` POSTs. */
  endpoint: "mcp" | "sse" | "messages";
  body: Buffer | undefined;
  messages: RpcMessage[];
  info: Classification | undefined;
  replica: Replica | undefined;
  /** With signed session ids: the upstream's own session id, swapped in for the token on the way up. */
  upstreamSessionId: string | undefined;
  /** With HTTP+SSE messages: the path and query the replica announced for the session (instead of its own path). */
  upstreamPath: string | undefined;
  /** Counted in `inFlight` (a request expected to end), until the response closes. */
  inFlight: boolean;
  /** Holds one of `streams` (a long-lived stream), until the response closes. */
  stream: boolean;
  /** A cacheable answer being copied for the list cache (a miss). */
  capture: AnswerCapture | undefined;
  /** The upstream exchange, once forwarded. */
  exchange: Exchange | undefined;
  /** The requests of its connection still waiting for their answers (`pipelining.ts`), this one among them. */
  lane: Set<ServerResponse> | undefined;
  /** The refusal code, for the request log. */
  code: string | undefined;
  /** The request's trace, when an OpenTelemetry SDK is registered (`observability/request-trace.ts`). */
  trace: RequestTrace | undefined;
}

const NO_MESSAGES: RpcMessage[] = [];

/** The principal of every client on an operator route (no gateway credential). */
export const ANONYMOUS = "anonymous";

/** The name of the route the request is for: a proxied pool's, or a virtual server's (undefined before matching). */
export function routeName(ctx: RequestContext): string | undefined {
  return ctx.pool?.name ?? ctx.virtual?.name;
}

export function createContext(req: IncomingMessage, res: ServerResponse): RequestContext {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return {
    req,
    res,
    startedAt: performance.now(),
    path: q >= 0 ? url.slice(0, q) : url,
    query: q >= 0 ? url.slice(q) : "",
    principal: ANONYMOUS,
    tenantPath: undefined,
    token: undefined,
    bearer: undefined,
    upstreamAuthorization: undefined,
    listFilter: undefined,
    tenant: undefined,
    quotas: undefined,
    tenantStream: false,
    upstreamMs: undefined,
    pool: undefined,
    virtual: undefined,
    endpoint: "mcp",
    body: undefined,
    messages: NO_MESSAGES,
    info: undefined,
    replica: undefined,
    upstreamSessionId: undefined,
    upstreamPath: undefined,
    inFlight: false,
    stream: false,
    capture: undefined,
    exchange: undefined,
    lane: undefined,
    code: undefined,
    trace: undefined,
  };
}
