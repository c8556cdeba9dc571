import { createHash } from "node:crypto";
import type { RequestContext } from "../gateway/context.js";
import { publicBase } from "../gateway/public-url.js";
import type { GatewayState } from "../gateway/state.js";
import { AI_CATALOG_TYPE, aiCatalog, type RouteView, SERVER_CARD_TYPE, serverCard, wellKnown } from "./documents.js";

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, OPTIONS",
  "access-control-allow-headers": "Content-Type, If-None-Match",
  "access-control-expose-headers": "ETag",
};

function views(gw: GatewayState): RouteView[] {
  const proxied = [...gw.pools.values()].map((pool) => {
    const config = gw.config.upstreams[pool.name];
    return {
      route: pool.name,
      transport: pool.transport,
      discovery: config?.discovery ?? { headers: [], tools: false },
      info: gw.discovery?.get(pool.name),
      available: pool.hasHealthy(),
      internal: pool.replicas.flatMap((r) => [r.url.host, r.url.hostname]),
      oauthMetadata: pool.auth?.metadata,
    };
  });
  // Virtual servers (federation) are endpoints too: described by what they say of themselves.
  const virtual = [...gw.virtuals.values()].map((v) => ({
    route: v.name,
    transport: "streamable-http" as const,
    discovery: { headers: [], tools: false },
    info: v.discoveryInfo(),
    available: v.down().length < v.members.names.length,
    internal: v.internalHosts(),
    oauthMetadata: v.auth?.metadata,
  }));
  return [...proxied, ...virtual];
}

/** The document at this path, or undefined when the path is not a discovery document. */
function documentFor(ctx: RequestContext, gw: GatewayState): Doc | undefined {
  const path = ctx.path;
  const all = views(gw);
  if (path === "/.well-known/mcp") {
    return { body: wellKnown(publicBase(ctx, gw), all), type: "application/json", maxAge: 300, views: all };
  }
  if (path === "/.well-known/ai-catalog.json") {
    return { body: aiCatalog(publicBase(ctx, gw), all), type: AI_CATALOG_TYPE, maxAge: 3600, views: all };
  }
  const m = /^\/([^/]+)\/(mcp|sse)\/server-card$/.exec(path);
  const view = m ? all.find((v) => v.route === m[1] && (v.transport === "sse") === (m[2] === "sse")) : undefined;
  if (!view) return undefined;
  return { body: serverCard(publicBase(ctx, gw), view), type: SERVER_CARD_TYPE, maxAge: 3600, views: [view] };
}

/** A document, and the routes it describes. */
interface Doc {
  body: unknown;
  type: string;
  maxAge: number;
  views: RouteView[];
}

/** Whether every route a document describes has its upstream's description (HTTP+SSE ones never do). */
const complete = (doc: Doc) => doc.views.every((v) => v.transport !== "streamable-http" || !v.available || v.info);

/**
 * `/.well-known/mcp`, `/.well-known/ai-catalog.json` and `/NAME/mcp/server-card`: public documents, with
 * no authentication, CORS for everyone, an ETag honoured by `If-None-Match` (304), HEAD and OPTIONS.
 * Returns true when the request was one of them.
 */
export function serveDiscovery(ctx: RequestContext, gw: GatewayState): boolean {
  if (!gw.discovery || (!ctx.path.startsWith("/.well-known/") && !ctx.path.endsWith("/server-card"))) return false;
  const doc = documentFor(ctx, gw);
  if (!doc) return false;
  const { req, res } = ctx;
  if (req.method === "OPTIONS") {
    res.writeHead(204, { ...CORS, "access-control-max-age": "86400" });
    res.end();
    return true;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...CORS, allow: "GET, HEAD, OPTIONS", "content-type": "application/json" });
    res.end(JSON.stringify({ error: "method not allowed" }));
    return true;
  }
  // Right after a start (or a reload), the upstreams' own descriptions may not be in yet: wait a moment
  // for the first pass, then serve what is known — an incomplete document with a short lifetime only.
  const ready = complete(doc) ? Promise.resolve() : Promise.race([gw.discovery.firstPass, delay(FIRST_PASS_WAIT_MS)]);
  void ready.then(() => {
    const now = documentFor(ctx, gw) ?? doc;
    answer(ctx, now, complete(now));
  });
  return true;
}

const FIRST_PASS_WAIT_MS = 2000;
/** What an incomplete document may be cached for. */
const INCOMPLETE_MAX_AGE = 10;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function answer(ctx: RequestContext, doc: Doc, complete: boolean): void {
  const { req, res } = ctx;
  const body = `${JSON.stringify(doc.body, null, 2)}\n`;
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  const maxAge = complete ? doc.maxAge : Math.min(doc.maxAge, INCOMPLETE_MAX_AGE);
  const headers = { ...CORS, etag, "cache-control": `public, max-age=${maxAge}`, vary: "Host, X-Forwarded-Host" };
  const match = req.headers["if-none-match"];
  if (
    match !== undefined &&
    (match.trim() === "*" || match.split(",").some((t) => t.trim().replace(/^W\//, "") === etag))
  ) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "content-type": doc.type, "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}
