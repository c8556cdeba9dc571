/**
 * `WWW-Authenticate` challenges of a protected MCP route (RFC 6750 §3, RFC 9728 §5.1), pure. The
 * client learns where the route's metadata is and which scopes to ask for — never what lies behind.
 */
export function bearerChallenge(options: {
  resourceMetadata: string;
  scopes: readonly string[];
  error?: "invalid_token" | "insufficient_scope" | "invalid_request";
}): string {
  const parts = [`resource_metadata="${options.resourceMetadata}"`];
  if (options.scopes.length > 0) parts.push(`scope="${options.scopes.join(" ")}"`);
  if (options.error !== undefined) parts.unshift(`error="${options.error}"`);
  return `Bearer ${parts.join(", ")}`;
}

/**
 * Where a route's Protected Resource Metadata lives (RFC 9728 §3.1): the resource's path after
 * `/.well-known/oauth-protected-resource`, on its origin.
 */
export function metadataUrl(resource: string): string {
  const u = new URL(resource);
  return `${u.origin}/.well-known/oauth-protected-resource${u.pathname === "/" ? "" : u.pathname}`;
}
