import type { IncomingHttpHeaders } from "node:http";
import { NODE_HEADER } from "../ha/session-id.js";

/** Which headers cross the gateway, in each direction. Pure. */

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers the gateway sets itself or that must not travel upstream. */
const REQUEST_DROP = new Set([
  ...HOP_BY_HOP,
  "host",
  "content-length",
  "expect",
  // The gateway never asks for compression: SSE must not be compressed and bytes pass through as they are.
  "accept-encoding",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
]);

/**
 * What a client presents to the gateway itself on a tenant's server: its gateway credential (key or JWT)
 * and the gateway's cookies. Never forwarded there; the server's own upstream headers go instead.
 */
const GATEWAY_CREDENTIALS = new Set(["authorization", "x-api-key", "cookie"]);

function connectionTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(",") : value;
  return joined
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
}

export interface ForwardedFor {
  clientAddress: string | undefined;
  proto: "http" | "https";
  trustProxy: boolean;
  /**
   * Headers of the route's own (a flat list, and their names), sent in place of the client's headers of
   * those names: a tenant's server's, and then the client's gateway credential is dropped too
   * (`credentials`); an operator route's `upstreams.NAME.headers`, where the rest passes through.
   * Undefined on an operator route without headers, where `Authorization` passes through.
   */
  inject?: { headers: readonly string[]; names: ReadonlySet<string>; credentials: boolean } | undefined;
}

/**
 * What a tenant's server sends upstream in place of the client's credential: its configured headers,
 * names lower-cased (the last of two spellings wins) so that a client's header of the same name, which
 * Node gives in lower case, is always the one dropped.
 */
export function injection(headers: Readonly<Record<string, string>>): { headers: string[]; names: Set<string> } {
  const byName = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) byName.set(name.toLowerCase(), value);
  return { headers: [...byName].flat(), names: new Set(byName.keys()) };
}

/**
 * Headers for the upstream request: every end-to-end header of the client (MCP headers, `Accept`,
 * `Content-Type`, `Last-Event-ID`, `Authorization` and the rest) minus hop-by-hop ones and those named
 * by `Connection`, plus `X-Forwarded-For/-Proto/-Host` (appended to when the previous hop is trusted).
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, fwd: ForwardedFor): string[] {
  const drop = incoming.connection === undefined ? undefined : connectionTokens(incoming.connection);
  // A flat [name, value, ...] list: cheaper to build and to hand to undici than an object.
  const out: string[] = [];
  const inject = fwd.inject;
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || REQUEST_DROP.has(name) || drop?.includes(name)) continue;
    if (inject && ((inject.credentials && GATEWAY_CREDENTIALS.has(name)) || inject.names.has(name))) continue;
    if (typeof value === "string") out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  if (inject) out.push(...inject.headers);
  const priorFor = fwd.trustProxy ? incoming["x-forwarded-for"] : undefined;
  const client = fwd.clientAddress ?? "unknown";
  out.push("x-forwarded-for", priorFor ? `${String(priorFor)}, ${client}` : client);
  const priorProto = fwd.trustProxy ? incoming["x-forwarded-proto"] : undefined;
  out.push("x-forwarded-proto", typeof priorProto === "string" ? priorProto : fwd.proto);
  const priorHost = fwd.trustProxy ? incoming["x-forwarded-host"] : undefined;
  const host = typeof priorHost === "string" ? priorHost : incoming.host;
  if (host !== undefined) out.push("x-forwarded-host", host);
  return out;
}

/**
 * End-to-end headers, as the flat `[name, value, name, value, ...]` list that `writeHead` and
 * `http.request` take: all but hop-by-hop ones, those named by `Connection`, and `also`.
 */
export function endToEndHeaders(
  headers: Record<string, string | string[] | undefined>,
  also?: ReadonlySet<string>,
): string[] {
  const drop = headers.connection === undefined ? undefined : connectionTokens(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || drop?.includes(name) || also?.has(name)) continue;
    if (typeof value === "string") out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  return out;
}

/**
 * Headers for the client's response: the upstream's end-to-end headers. Node frames the body itself.
 */
/** Answer headers between a gateway and its replicas only: a `switchyard/ha` node's name. */
const INTERNAL_RESPONSE: ReadonlySet<string> = new Set([NODE_HEADER]);

export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): string[] {
  return endToEndHeaders(upstream, INTERNAL_RESPONSE);
}
