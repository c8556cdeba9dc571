import type { RouteAuth } from "./route-auth.js";

/** A protected route's Protected Resource Metadata document (RFC 9728 §2), pure. */
export function resourceMetadata(auth: RouteAuth): Record<string, unknown> {
  return {
    resource: auth.audience,
    authorization_servers: auth.config.issuers,
    scopes_supported: auth.scopes,
    bearer_methods_supported: ["header"],
  };
}

export const METADATA_PREFIX = "/.well-known/oauth-protected-resource";
