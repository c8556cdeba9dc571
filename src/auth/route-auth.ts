import type { AuthConfig, Config, UpstreamConfig } from "../config/schema.js";
import { metadataUrl } from "./challenge.js";
import { knownScopes } from "./scopes.js";

/** A protected route's OAuth settings, resolved: its audience and where its metadata is. */
export interface RouteAuth {
  config: AuthConfig;
  /** The resource: the audience tokens must carry (RFC 8707). */
  audience: string;
  /** Its Protected Resource Metadata URL (RFC 9728). */
  metadata: string;
  /** `scopes_supported`. */
  scopes: string[];
  /** `passthrough`: the client's token goes upstream as it came (the operator said so). */
  passthrough: boolean;
  /** Token exchange (RFC 8693) for the upstream's own token. */
  exchange: ExchangeConfig | undefined;
}

export type ExchangeConfig = Extract<UpstreamConfig["upstreamAuth"], { exchange: unknown }>["exchange"];

/**
 * The route's effective settings (pure): its own `auth`, else the top-level one; `false` or neither
 * means the route needs no token. The audience defaults to the route's canonical URL (`publicUrl` +
 * `/NAME/mcp`); without either, there is none (`load.ts` refuses that configuration).
 */
export function routeAuth(config: Config, route: string): RouteAuth | undefined {
  const upstream = config.upstreams[route];
  if (!upstream) return undefined;
  return resolve(config, route, upstream.auth, {
    passthrough: upstream.upstreamAuth === "passthrough",
    exchange: typeof upstream.upstreamAuth === "object" ? upstream.upstreamAuth.exchange : undefined,
  });
}

/**
 * A virtual server's settings (pure): its own `auth`, else the top-level one; its members' upstream
 * credentials are theirs (`memberExchange`), none passes the client's token on.
 */
export function virtualAuth(config: Config, name: string): RouteAuth | undefined {
  const virtual = config.virtual[name];
  if (!virtual) return undefined;
  return resolve(config, name, virtual.auth, { passthrough: false, exchange: undefined });
}

/** A route's `auth` (or the top-level one), its audience, metadata and scopes, and what goes upstream. */
function resolve(
  config: Config,
  name: string,
  own: AuthConfig | false | undefined,
  upstream: Pick<RouteAuth, "passthrough" | "exchange">,
): RouteAuth | undefined {
  const auth = own === false ? undefined : (own ?? config.auth);
  if (!auth) return undefined;
  const audience =
    auth.audience ?? (config.publicUrl ? `${config.publicUrl.replace(/\/$/, "")}/${name}/mcp` : undefined);
  if (audience === undefined) return undefined;
  return { config: auth, audience, metadata: metadataUrl(audience), scopes: knownScopes(auth), ...upstream };
}

/** Routes whose `auth` has no audience to check (neither `audience` nor `publicUrl`): a configuration error. */
export function routesWithoutAudience(config: Config): string[] {
  return [...Object.keys(config.upstreams), ...Object.keys(config.virtual)].filter((route) => {
    const own = config.upstreams[route]?.auth ?? config.virtual[route]?.auth;
    const auth = own === false ? undefined : (own ?? config.auth);
    return auth !== undefined && auth.audience === undefined && config.publicUrl === undefined;
  });
}
