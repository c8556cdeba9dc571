import { SwitchyardError } from "../errors.js";
import { H } from "./headers.js";
import { META, type RpcMessage } from "./jsonrpc.js";
import { routingHeaderMismatch } from "./routing-headers.js";
import { isModernVersion } from "./versions.js";

/** The modern revisions the gateway speaks when it answers as a server itself (a virtual server). */
export const SUPPORTED_MODERN_VERSIONS = ["2026-07-28"] as const;

/** Methods of the legacy era that the modern one removed: a server answers them 404, -32601. */
const REMOVED = new Set(["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"]);

type Headers = Record<string, string | string[] | undefined>;

/**
 * What a server of 2026-07-28 refuses in a request before it reads the method's params, in the order it
 * checks: the `_meta` envelope (-32602; `clientInfo` is optional), routing headers that disagree with
 * the body (-32020), a revision it does not speak (-32022, with the ones it does), a method the revision
 * removed (404, -32601).
 * Undefined when the request may be served. Pure.
 */
export function modernRefusal(message: RpcMessage, headers: Headers): SwitchyardError | undefined {
  const meta = message.params?._meta;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
    return new SwitchyardError("SWY_INVALID_ENVELOPE", {
      detail: "no _meta",
      data: { envelope: { missing: ["_meta"] } },
    });
  }
  const envelope = meta as Record<string, unknown>;
  const missing = [META.protocolVersion, META.clientCapabilities].filter(
    (key) => envelope[key] === null || typeof envelope[key] !== (key === META.protocolVersion ? "string" : "object"),
  );
  if (missing.length > 0) {
    return new SwitchyardError("SWY_INVALID_ENVELOPE", { detail: missing.join(", "), data: { envelope: { missing } } });
  }
  const mismatch = routingHeaderMismatch(headers, message);
  if (mismatch !== undefined) return new SwitchyardError("SWY_HEADER_MISMATCH", { detail: mismatch });
  const requested = envelope[META.protocolVersion] as string;
  if (!(SUPPORTED_MODERN_VERSIONS as readonly string[]).includes(requested)) {
    return new SwitchyardError("SWY_UNSUPPORTED_VERSION", {
      detail: requested,
      data: { supported: [...SUPPORTED_MODERN_VERSIONS], requested },
    });
  }
  if (message.method !== undefined && REMOVED.has(message.method)) {
    return new SwitchyardError("SWY_METHOD_NOT_FOUND", { detail: `${message.method} is not a method of ${requested}` });
  }
  return undefined;
}

/**
 * Whether a request without a session is of the modern era: it carries the envelope, or (not being a
 * handshake) its `MCP-Protocol-Version` names a modern revision — then a missing envelope is its fault.
 */
export function isModernRequest(message: RpcMessage, headers: Headers): boolean {
  if (typeof message.params?._meta === "object" && message.params._meta !== null) {
    if (typeof (message.params._meta as Record<string, unknown>)[META.protocolVersion] === "string") return true;
  }
  const version = headers[H.protocolVersion];
  return message.method !== "initialize" && typeof version === "string" && isModernVersion(version);
}
