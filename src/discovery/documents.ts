import type { UpstreamConfig } from "../config/schema.js";
import type { UpstreamInfo } from "./upstream-info.js";

/**
 * The discovery documents, built from configuration and what the upstreams said about themselves.
 * Pure. Every URL in them is under the public base; nothing an upstream said that names one of its
 * own addresses is repeated.
 */

/** The `$schema` every Server Card carries (v1, experimental-ext-server-card; our copy: docs/schemas/). */
export const SERVER_CARD_SCHEMA = "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json";
export const SERVER_CARD_TYPE = "application/mcp-server-card+json";
export const AI_CATALOG_TYPE = "application/ai-catalog+json";

export interface RouteView {
  route: string;
  transport: UpstreamConfig["transport"];
  discovery: UpstreamConfig["discovery"];
  info: UpstreamInfo | undefined;
  /** At least one replica is healthy. */
  available: boolean;
  /** Host strings of the replicas (`10.0.0.5:3000`, `10.0.0.5`): never to appear in a document. */
  internal: string[];
  /** On a route with `auth`: where its Protected Resource Metadata is (clients need a token). */
  oauthMetadata: string | undefined;
}

type Json = Record<string, unknown>;

/** An upstream-sourced string, unless it names one of the replica's addresses. */
function clean(value: unknown, view: RouteView): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  return view.internal.some((h) => value.includes(h)) ? undefined : value;
}

function compact<T extends Json>(obj: T): T {
  for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
  return obj;
}

export function endpointUrl(base: string, view: Pick<RouteView, "route" | "transport">): string {
  return `${base}/${view.route}/${view.transport === "sse" ? "sse" : "mcp"}`;
}

export function cardUrl(base: string, view: Pick<RouteView, "route" | "transport">): string {
  return `${endpointUrl(base, view)}/server-card`;
}

/** `com.example.mcp/tickets` from `https://mcp.example.com` and route `tickets`; hosts that are not DNS names get `local.switchyard`. */
export function serverName(base: string, view: RouteView): string {
  if (view.discovery.name) return view.discovery.name;
  const host = new URL(base).hostname;
  const dns = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(host) && /[a-z]/i.test(host);
  const reversed = dns ? host.split(".").reverse().join(".") : "local.switchyard";
  return `${reversed}/${view.route.replace(/[^a-zA-Z0-9._-]/g, "-")}`;
}

function protocolVersions(view: RouteView): string[] | undefined {
  if (view.info?.protocolVersions.length) return view.info.protocolVersions;
  return view.transport === "sse" ? ["2024-11-05"] : undefined;
}

function description(view: RouteView): string {
  return (
    view.discovery.description ??
    clean(view.info?.serverInfo.description, view)?.slice(0, 100) ??
    `MCP server "${view.route}", served by Switchyard`.slice(0, 100)
  );
}

/** The Server Card of one route (SEP-2127 draft; fields of the registry's server.json). */
export function serverCard(base: string, view: RouteView): Json {
  const d = view.discovery;
  const info = view.info?.serverInfo;
  const headers = d.headers.map((h) =>
    compact({ name: h.name, description: h.description, isRequired: h.isRequired, isSecret: h.isSecret }),
  );
  const remote = compact({
    type: view.transport,
    url: endpointUrl(base, view),
    headers: headers.length ? headers : undefined,
    supportedProtocolVersions: protocolVersions(view),
  });
  return compact({
    $schema: SERVER_CARD_SCHEMA,
    name: serverName(base, view),
    title: d.title ?? clean(info?.title, view)?.slice(0, 100),
    description: description(view),
    version: d.version ?? clean(info?.version, view) ?? "0.0.0",
    websiteUrl: d.websiteUrl,
    repository: d.repository,
    icons: d.icons,
    remotes: [remote],
    _meta: { "io.switchyard/status": view.available ? "available" : "unavailable" },
  });
}

/** One server's entry of `/.well-known/mcp` (the SEP-2521 proposal's fields). */
function wellKnownEntry(base: string, view: RouteView): Json {
  const d = view.discovery;
  const tools = d.tools ? view.info?.tools : undefined;
  return compact({
    name: d.title ?? clean(view.info?.serverInfo.title, view) ?? clean(view.info?.serverInfo.name, view) ?? view.route,
    description: description(view),
    provider: d.provider,
    mcp: compact({
      transport: view.transport,
      endpoint: endpointUrl(base, view),
      protocolVersions: protocolVersions(view),
    }),
    auth:
      view.oauthMetadata !== undefined
        ? { required: true, type: "oauth2", resourceMetadata: view.oauthMetadata }
        : { required: false },
    serverCard: cardUrl(base, view),
    status: view.available ? "available" : "unavailable",
    tools: tools?.map((t) => t.name).filter((name) => clean(name, view) !== undefined),
  });
}

/** `/.well-known/mcp`: the server itself for a host with one route, else `{ servers: [...] }`. */
export function wellKnown(base: string, views: RouteView[]): Json {
  if (views.length === 1) return wellKnownEntry(base, views[0] as RouteView);
  return { servers: views.map((v) => wellKnownEntry(base, v)) };
}

/** `urn:air:{publisher}:mcp:{name}` for card `com.example/weather` → `urn:air:example.com:mcp:weather`. */
export function catalogIdentifier(cardName: string): string {
  const [namespace, name] = cardName.split("/") as [string, string];
  return `urn:air:${namespace.split(".").reverse().join(".")}:mcp:${name}`;
}

/**
 * `/.well-known/ai-catalog.json` (AI Catalog 1.0, Agent-Card/ai-catalog): every route's card by URL.
 * Entries repeat nothing of the card but its identity (the card is the source of its title and version).
 */
export function aiCatalog(base: string, views: RouteView[]): Json {
  return {
    specVersion: "1.0",
    host: { displayName: new URL(base).host },
    entries: views.map((v) => ({
      identifier: catalogIdentifier(serverName(base, v)),
      type: SERVER_CARD_TYPE,
      url: cardUrl(base, v),
    })),
  };
}
