/**
 * The one table of refusals. Every error the gateway itself produces has a stable `SWY_*` code,
 * an HTTP status and a JSON-RPC error code (local codes are kept apart from wire codes: the wire code
 * is what clients see in `error.code`, the `SWY_*` code travels in `error.data.code` and in logs).
 */
export const ERRORS = {
  SWY_PARSE_ERROR: { status: 400, rpc: -32700, message: "Parse error: the body is not valid JSON" },
  SWY_INVALID_REQUEST: { status: 400, rpc: -32600, message: "Invalid Request: not a JSON-RPC 2.0 message" },
  SWY_BAD_HTTP: { status: 400, rpc: -32600, message: "Bad Request: malformed HTTP" },
  SWY_HEADERS_TOO_LARGE: { status: 431, rpc: -32600, message: "Request header fields too large" },
  SWY_REQUEST_TIMEOUT: { status: 408, rpc: -32600, message: "Request not received in time" },
  SWY_EXPECTATION_FAILED: {
    status: 417,
    rpc: -32600,
    message: "Expectation Failed: the only Expect the gateway meets is 100-continue",
  },
  SWY_HTTP_VERSION_NOT_SUPPORTED: {
    status: 505,
    rpc: -32600,
    message: "HTTP Version Not Supported: send HTTP/1.1 (or 1.0)",
  },
  SWY_UNSUPPORTED_TRANSFER_ENCODING: {
    status: 501,
    rpc: -32600,
    message: "Not Implemented: the only Transfer-Encoding the gateway reads is chunked",
  },
  SWY_BODY_TOO_LARGE: { status: 413, rpc: -32600, message: "Request body too large" },
  SWY_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    rpc: -32000,
    message: "Unsupported Media Type: Content-Type must be application/json",
  },
  SWY_NOT_ACCEPTABLE: {
    status: 406,
    rpc: -32000,
    message: "Not Acceptable: Accept must allow application/json or text/event-stream",
  },
  SWY_NOT_ACCEPTABLE_SSE: {
    status: 406,
    rpc: -32000,
    message: "Not Acceptable: a GET stream needs Accept: text/event-stream",
  },
  SWY_METHOD_NOT_ALLOWED: { status: 405, rpc: -32000, message: "Method not allowed" },
  SWY_BAD_SESSION_ID: {
    status: 400,
    rpc: -32000,
    message:
      "Bad Request: the session id (Mcp-Session-Id, or an HTTP+SSE message URL's sessionId) must be 1-256 visible ASCII characters",
  },
  SWY_SESSION_NOT_FOUND: { status: 404, rpc: -32001, message: "Session not found" },
  SWY_SESSION_REPLICA_GONE: {
    status: 404,
    rpc: -32001,
    message: "Session not found: the replica that held it is gone; re-initialize",
  },
  SWY_ORIGIN_FORBIDDEN: { status: 403, rpc: -32000, message: "Forbidden: Origin not allowed" },
  SWY_HOST_FORBIDDEN: { status: 403, rpc: -32000, message: "Forbidden: Host not allowed" },
  SWY_ROUTE_NOT_FOUND: { status: 404, rpc: -32000, message: "No MCP route at this path" },
  SWY_NO_HEALTHY_UPSTREAM: { status: 503, rpc: -32000, message: "No healthy upstream replica" },
  SWY_STORE_UNAVAILABLE: {
    status: 503,
    rpc: -32000,
    message: "Session store unavailable; retry shortly",
  },
  SWY_TOO_MANY_STREAMS: {
    status: 503,
    rpc: -32000,
    message: "Too many open streams on this gateway; retry shortly",
  },
  SWY_HEADER_MISMATCH: {
    status: 400,
    rpc: -32020,
    message: "Header mismatch: a routing header does not match the request body",
  },
  SWY_UNAUTHORIZED: {
    status: 401,
    rpc: -32000,
    message: "Unauthorized: send a tenant API key (Authorization: Bearer, or X-Api-Key) or a valid bearer token",
  },
  SWY_AUTH_REQUIRED: {
    status: 401,
    rpc: -32000,
    message: "Unauthorized: this route needs a bearer token (see WWW-Authenticate for its metadata)",
  },
  SWY_INVALID_TOKEN: {
    status: 401,
    rpc: -32000,
    message: "Unauthorized: the bearer token is not valid for this route",
  },
  SWY_INSUFFICIENT_SCOPE: {
    status: 403,
    rpc: -32000,
    message: "Forbidden: the token lacks a scope this request needs (see WWW-Authenticate)",
  },
  SWY_TOKEN_EXCHANGE_FAILED: {
    status: 502,
    rpc: -32000,
    message: "Bad Gateway: no token for the upstream could be obtained (token exchange)",
  },
  SWY_TENANT_FORBIDDEN: { status: 403, rpc: -32000, message: "Forbidden: this credential is for another tenant" },
  SWY_RATE_LIMITED: { status: 429, rpc: -32000, message: "Too many requests for this tenant; retry later" },
  SWY_TENANT_SESSIONS_EXCEEDED: {
    status: 429,
    rpc: -32000,
    message: "This tenant holds as many sessions as its quota allows; end one first",
  },
  SWY_TENANT_STREAMS_EXCEEDED: {
    status: 429,
    rpc: -32000,
    message: "This tenant holds as many open streams as its quota allows; close one first",
  },
  SWY_METRICS_UNAUTHORIZED: { status: 401, rpc: -32000, message: "Metrics: missing or wrong bearer token" },
  SWY_ADMIN_UNAUTHORIZED: { status: 401, rpc: -32000, message: "Admin API: missing or wrong bearer token" },
  SWY_ADMIN_READ_ONLY: {
    status: 403,
    rpc: -32000,
    message: "Admin API: this token may only read (GET); changes need the admin token",
  },
  SWY_ADMIN_NOT_FOUND: { status: 404, rpc: -32000, message: "Admin API: no such resource" },
  SWY_ADMIN_CONFLICT: { status: 409, rpc: -32000, message: "Admin API: already exists" },
  SWY_ADMIN_INVALID: { status: 400, rpc: -32000, message: "Admin API: invalid request" },
  SWY_ADMIN_URL_REFUSED: {
    status: 422,
    rpc: -32000,
    message: "Admin API: server URL refused (https only, no credentials, a sane port, no internal address)",
  },
  SWY_DIAGNOSTICS_INVALID: {
    status: 400,
    rpc: -32000,
    message: "Diagnostics: events 1-50, every 10-5000 ms, idle 0-600000 ms",
  },
  SWY_TOO_MANY_PIPELINED: {
    status: 503,
    rpc: -32000,
    message: "Too many pipelined requests on this connection are waiting for their answers; retry shortly",
  },
  SWY_SHUTTING_DOWN: { status: 503, rpc: -32000, message: "Gateway is shutting down" },
  // Virtual servers (federation): the gateway answers as the MCP server. A JSON-RPC error of a session's
  // request is answered with HTTP 200, as servers answer them; the status here is the modern era's.
  SWY_MEMBER_UNAVAILABLE: {
    status: 200,
    rpc: -32000,
    message: "Unavailable: the member server that serves this cannot be reached now",
  },
  SWY_VIRTUAL_UNAVAILABLE: {
    status: 503,
    rpc: -32000,
    message: "Virtual server unavailable: a member server cannot be reached (onMemberFailure: closed)",
  },
  SWY_UNKNOWN_NAME: { status: 200, rpc: -32602, message: "Invalid params: no such tool, prompt or resource" },
  SWY_METHOD_NOT_FOUND: { status: 404, rpc: -32601, message: "Method not found" },
  SWY_INVALID_ENVELOPE: {
    status: 400,
    rpc: -32602,
    message: "Invalid params: a 2026-07-28 request needs its _meta envelope (protocolVersion, clientCapabilities)",
  },
  SWY_UNSUPPORTED_VERSION: { status: 400, rpc: -32022, message: "Unsupported protocol version" },
  SWY_SESSION_REQUIRED: {
    status: 400,
    rpc: -32000,
    message: "Bad Request: no Mcp-Session-Id (send initialize first)",
  },
  // `switchyard host`: a stdio server's processes. An answer that a process could not give is a JSON-RPC
  // error of the session's request (HTTP 200 in a session, as servers answer them; the status is the modern era's).
  SWY_HOST_BUSY: {
    status: 503,
    rpc: -32000,
    message: "Busy: as many server processes run as --max-processes allows; retry shortly",
  },
  SWY_HOST_STREAM_OPEN: {
    status: 409,
    rpc: -32000,
    message: "Conflict: this session's GET stream is open already (one at a time)",
  },
  SWY_HOST_START_TIMEOUT: {
    status: 504,
    rpc: -32000,
    message: "The server process did not answer its first request in time (--start-timeout)",
  },
  SWY_HOST_PROCESS_ENDED: {
    status: 502,
    rpc: -32603,
    message: "The server process ended before it answered",
  },
  SWY_HOST_REQUEST_TIMEOUT: {
    status: 504,
    rpc: -32000,
    message: "The server process did not answer in time (--request-timeout); it was replaced",
  },
  SWY_UPSTREAM_CONNECT_TIMEOUT: {
    status: 504,
    rpc: -32000,
    message: "Upstream replica did not accept the connection in time",
  },
  SWY_UPSTREAM_TIMEOUT: {
    status: 504,
    rpc: -32000,
    message: "Upstream replica did not answer in time",
  },
  SWY_UPSTREAM_ADDRESS_REFUSED: {
    status: 502,
    rpc: -32000,
    message: "Upstream address refused: not a public address (SSRF protection)",
  },
  SWY_UPSTREAM_PROTOCOL_ERROR: {
    status: 502,
    rpc: -32000,
    message: "Upstream replica closed or broke the connection",
  },
} as const satisfies Record<string, { status: number; rpc: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A refusal decided by the gateway. Thrown or returned by stages; turned into a response by `respond`. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly rpc: number;
  /** Extra response headers (e.g. Allow, Retry-After). */
  readonly headers: Record<string, string>;
  /** Extra fields of the JSON-RPC error's `data` (the supported versions of an unsupported one). */
  readonly data: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    options: {
      headers?: Record<string, string>;
      cause?: unknown;
      detail?: string;
      data?: Record<string, unknown>;
    } = {},
  ) {
    const entry = ERRORS[code];
    super(options.detail === undefined ? entry.message : `${entry.message} (${options.detail})`, {
      cause: options.cause,
    });
    this.name = "SwitchyardError";
    this.code = code;
    this.status = entry.status;
    this.rpc = entry.rpc;
    this.headers = options.headers ?? {};
    this.data = options.data;
  }
}

export type JsonRpcId = string | number | null;

/** The JSON-RPC error message for a refusal. */
export function errorMessage(error: SwitchyardError, id: JsonRpcId = null) {
  return {
    jsonrpc: "2.0",
    id,
    error: { code: error.rpc, message: error.message, data: { ...error.data, code: error.code } },
  };
}

/** The same, as a body. */
export function errorBody(error: SwitchyardError, id: JsonRpcId = null): string {
  return JSON.stringify(errorMessage(error, id));
}
