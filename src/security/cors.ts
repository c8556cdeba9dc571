/**
 * CORS for browser clients of the MCP endpoints (pure). An allowed `Origin` (see origin-host.ts) may read
 * the headers a client needs — above all `Mcp-Session-Id`, without which a browser client cannot keep
 * its session — and may send the MCP request headers.
 */
export const EXPOSED_HEADERS = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, Retry-After";

const REQUEST_HEADERS = new Set([
  "accept",
  "authorization",
  "content-type",
  "last-event-id",
  "mcp-method",
  "mcp-name",
  "mcp-protocol-version",
  "mcp-session-id",
  "x-api-key",
]);

/** Headers on every answer to an allowed cross-origin request. */
export function corsHeaders(origin: string): Record<string, string> {
  return { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSED_HEADERS, vary: "Origin" };
}

/** The answer to an allowed origin's preflight: the endpoint's methods, and the MCP headers it asked for. */
export function preflightHeaders(
  origin: string,
  methods: string,
  requested: string | undefined,
): Record<string, string> {
  const headers = (requested ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => REQUEST_HEADERS.has(h) || h.startsWith("mcp-param-"));
  return {
    ...corsHeaders(origin),
    "access-control-allow-methods": methods,
    ...(headers.length > 0 ? { "access-control-allow-headers": headers.join(", ") } : {}),
    "access-control-max-age": "600",
  };
}

/**
 * An upstream's answer headers where the gateway answers CORS itself: the upstream's own
 * `Access-Control-*` headers go (a tenant's server must not widen or narrow what browsers may read), its
 * `Vary` stays with `Origin` added.
 */
export function underCors(headers: string[]): string[] {
  const out: string[] = [];
  const vary: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const value = headers[i + 1] as string;
    if (name.startsWith("access-control-")) continue;
    if (name === "vary") vary.push(value);
    else out.push(name, value);
  }
  out.push("vary", [...vary, "Origin"].join(", "));
  return out;
}
