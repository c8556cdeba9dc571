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
