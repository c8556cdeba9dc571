import { SwitchyardError } from "../errors.js";
import { acceptance, acceptsJsonOrSse, H, isJsonContentType, isValidSessionId } from "../protocol/headers.js";
import { hostAllowed, originAllowed } from "../security/origin-host.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

/** Methods per endpoint: Streamable HTTP's one, and HTTP+SSE's stream and message URLs. */
export const ALLOW = { mcp: "GET, POST, DELETE", sse: "GET", messages: "POST" } as const;

/** Checks that need no body: draining, HTTP method, Host and Origin, media types, the session id's shape. */
export function admit(ctx: RequestContext, gw: GatewayState): void {
  const { req } = ctx;
  const h = req.headers;
  if (gw.phase.draining) {
    throw new SwitchyardError("SWY_SHUTTING_DOWN", { headers: { "retry-after": "1", connection: "close" } });
  }
  const method = req.method;
  const allow = ALLOW[ctx.endpoint];
  if (method === undefined || !allow.includes(method)) {
    throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow } });
  }
  if (!hostAllowed(h.host, gw.policy)) throw new SwitchyardError("SWY_HOST_FORBIDDEN");
  const origin = h.origin;
  if (origin !== undefined && !originAllowed(origin, h.host, gw.policy)) {
    throw new SwitchyardError("SWY_ORIGIN_FORBIDDEN");
  }
  const sid = h[H.sessionId];
  if (sid !== undefined && (Array.isArray(sid) || !isValidSessionId(sid))) {
    throw new SwitchyardError("SWY_BAD_SESSION_ID");
  }
  if (method === "POST") {
    if (!isJsonContentType(h["content-type"])) throw new SwitchyardError("SWY_UNSUPPORTED_MEDIA_TYPE");
    // HTTP+SSE messages are answered 202 with no body: their clients send no Accept.
    if (ctx.endpoint === "mcp" && !acceptsJsonOrSse(h.accept)) {
      throw new SwitchyardError("SWY_NOT_ACCEPTABLE");
    }
  } else if (method === "GET" && !acceptance(h.accept).sse) {
    throw new SwitchyardError("SWY_NOT_ACCEPTABLE_SSE");
  }
}
