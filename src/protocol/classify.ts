import type { JsonRpcId } from "../errors.js";
import { H } from "./headers.js";
import { META, metaOf, type RpcMessage } from "./jsonrpc.js";
import { isModernVersion } from "./versions.js";

export type Era = "legacy" | "modern" | "unknown";

/** Everything routing needs to know about one request. Produced without I/O. */
export interface Classification {
  era: Era;
  /** The `Mcp-Session-Id` header, if present (its shape is checked at admission). */
  sessionId: string | undefined;
  protocolVersion: string | undefined;
  /** A POST whose (single) message is `initialize`: opens a legacy session. */
  initialize: boolean;
  /** JSON-RPC method of the first request/notification (for logs and metrics). */
  rpcMethod: string | undefined;
  /** `params.name` of a `tools/call`. */
  toolName: string | undefined;
  /** The id to answer a refusal with. */
  rpcId: JsonRpcId;
  /** The body holds only notifications and responses: the answer is a 202 with no body. */
  onlyNotifications: boolean;
  /** A stream that may stay open indefinitely: a GET, or a `subscriptions/listen` POST. */
  longLived: boolean;
}

type Headers = Record<string, string | string[] | undefined>;

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function metaVersion(m: RpcMessage | undefined): string | undefined {
  const v = metaOf(m, META.protocolVersion);
  return typeof v === "string" ? v : undefined;
}

/**
 * Classify a request by HTTP method, headers and (for POST) its parsed JSON-RPC messages.
 * Era rules (PROTOCOL.md): modern if the protocol version is ≥ 2026-07-28, or an `Mcp-Method` header,
 * or a version in `_meta`; legacy if a session id, an `initialize`, or a GET; otherwise unknown
 * (routed like stateless traffic).
 */
export function classify(method: string, headers: Headers, messages: RpcMessage[] = []): Classification {
  const sessionId = single(headers[H.sessionId]);
  const first = messages[0];
  const headerVersion = single(headers[H.protocolVersion]);
  const protocolVersion = headerVersion ?? metaVersion(first);
  const initialize = method === "POST" && messages.length === 1 && first?.method === "initialize";

  let era: Era = "unknown";
  if (
    (protocolVersion !== undefined && isModernVersion(protocolVersion)) ||
    headers[H.method] !== undefined ||
    metaVersion(first) !== undefined
  ) {
    era = "modern";
  } else if (sessionId !== undefined || initialize || method === "GET" || method === "DELETE") {
    era = "legacy";
  }

  const toolName =
    first?.method === "tools/call" && typeof first.params?.name === "string" ? first.params.name : undefined;
  const firstRequest = messages.find((m) => m.kind === "request");

  return {
    era,
    sessionId,
    protocolVersion,
    initialize,
    rpcMethod: first?.method,
    toolName,
    rpcId: firstRequest?.id ?? null,
    onlyNotifications: messages.length > 0 && firstRequest === undefined,
    longLived: method === "GET" || (messages.length === 1 && first?.method === "subscriptions/listen"),
  };
}
