import { SwitchyardError } from "../errors.js";
import { serveOperator } from "../gateway/admin-operator.js";
import { revokedUntil, serveSessions, sessionTimes } from "../gateway/admin-sessions.js";
import type { RequestContext } from "../gateway/context.js";
import { readBody } from "../gateway/read-body.js";
import { respondError, respondJson } from "../gateway/respond.js";
import type { GatewayState } from "../gateway/state.js";
import { publish } from "../observability/events.js";
import { validAllowList, withAllowList } from "../security/address-policy.js";
import { bearerMatches } from "../security/bearer.js";
import { checkRegistrationUrl } from "../security/registration-url.js";
import { type Quotas, TENANT_ID, type Tenant, type TenantServer } from "./registry.js";
import type { Tenancy } from "./tenancy.js";

const PREFIX = "/admin/v1/";

const invalid = (detail: string) => new SwitchyardError("SWY_ADMIN_INVALID", { detail });
const notFound = (detail: string) => new SwitchyardError("SWY_ADMIN_NOT_FOUND", { detail });
const methods = (allow: string) => new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow } });

async function jsonBody(ctx: RequestContext): Promise<Record<string, unknown>> {
  const text = (await readBody(ctx.req, 64 * 1024)).toString("utf8");
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw invalid("the body must be a JSON object");
}

const tenantView = (t: Tenant, tenancy: Tenancy) => ({
  id: t.id,
  createdAt: t.createdAt,
  keys: Object.keys(t.keys).length,
  servers: Object.keys(t.servers ?? {}).length,
  quotas: tenancy.quotas(t.id),
  allow: t.allow ?? [],
});

const QUOTA_FIELDS: readonly (keyof Quotas)[] = ["sessions", "streams", "rps", "burst", "maxBodyBytes"];

/** `quotas` and `allow` of a tenant body (each optional). */
function tenantSettings(body: Record<string, unknown>): Pick<Tenant, "quotas" | "allow"> {
  const settings: Pick<Tenant, "quotas" | "allow"> = {};
  if (body.quotas !== undefined) {
    if (!body.quotas || typeof body.quotas !== "object" || Array.isArray(body.quotas))
      throw invalid("quotas: an object");
    const quotas: Partial<Quotas> = {};
    for (const [k, v] of Object.entries(body.quotas as Record<string, unknown>)) {
      if (!QUOTA_FIELDS.includes(k as keyof Quotas)) throw invalid(`quotas.${k}: one of ${QUOTA_FIELDS.join(", ")}`);
      const positive = k === "rps" || k === "burst" || k === "maxBodyBytes";
      if (typeof v !== "number" || !Number.isFinite(v) || v < (positive ? Number.MIN_VALUE : 0)) {
        throw invalid(`quotas.${k}: a ${positive ? "positive" : "non-negative"} number`);
      }
      if (k !== "rps" && !Number.isInteger(v)) throw invalid(`quotas.${k}: an integer`);
      quotas[k as keyof Quotas] = v;
    }
    settings.quotas = quotas;
  }
  if (body.allow !== undefined) {
    if (!Array.isArray(body.allow) || body.allow.some((e) => typeof e !== "string")) {
      throw invalid("allow: a list of CIDRs, addresses or host names");
    }
    const bad = validAllowList(body.allow as string[]);
    if (bad !== undefined) throw invalid(`allow: ${bad} is not a CIDR, an address or a host name`);
    settings.allow = body.allow as string[];
  }
  return settings;
}

/**
 * The admin API (`/admin/v1`, bearer token from `admin.token`):
 *   POST/GET /tenants; GET/PUT/DELETE /tenants/ID (PUT replaces `quotas`, `allow`, whichever it holds);
 *   POST/GET /tenants/ID/keys, DELETE /tenants/ID/keys/KEY_ID (a key is shown once, at creation);
 *   POST/GET /tenants/ID/servers, PUT/GET/DELETE /tenants/ID/servers/NAME (a server's URL is checked:
 *   422 when refused; its upstream headers are secrets, listed by name only);
 *   GET/DELETE /tenants/ID/sessions, DELETE /tenants/ID/sessions/HASH (sessions by hash, age, replica);
 *   GET /me, /config, /overview and /check (the gateway itself: `gateway/admin-operator.ts`);
 *   GET/DELETE /sessions, DELETE /sessions/ROUTE/HASH (every route's: `gateway/admin-sessions.ts`).
 * `admin.token` may do all of it; `admin.readToken` may only GET.
 */
async function handle(ctx: RequestContext, gw: GatewayState, tenancy: Tenancy, readOnly: boolean): Promise<void> {
  const registry = tenancy.registry;
  const method = ctx.req.method ?? "GET";
  const parts = ctx.path.slice(PREFIX.length).split("/").filter(Boolean).map(decodeURIComponent);
  const [collection, tenant, sub, item] = parts;
  if (parts.length === 1 && collection !== undefined && serveOperator(ctx, gw, collection, readOnly)) return;
  if (collection === "sessions") return serveSessions(ctx, gw, parts.slice(1));
  if (
    collection !== "tenants" ||
    parts.length > 4 ||
    (sub !== undefined && !["keys", "servers", "sessions"].includes(sub))
  ) {
    throw new SwitchyardError("SWY_ADMIN_NOT_FOUND");
  }
  if (tenant === undefined) {
    if (method === "GET") return respondJson(ctx, 200, { tenants: registry.list().map((t) => tenantView(t, tenancy)) });
    if (method !== "POST") throw methods("GET, POST");
    const body = await jsonBody(ctx);
    const id = body.id;
    if (typeof id !== "string" || !TENANT_ID.test(id)) {
      throw invalid("id: 1-63 of a-z, 0-9 and -, starting with a letter or digit");
    }
    if (!(await registry.create(id, tenantSettings(body)))) {
      throw new SwitchyardError("SWY_ADMIN_CONFLICT", { detail: `tenant ${id} exists` });
    }
    return respondJson(ctx, 201, tenantView(registry.get(id) as Tenant, tenancy));
  }
  const t = registry.get(tenant);
  if (!t) throw notFound(`no tenant ${tenant}`);
  if (sub === undefined) {
    if (method === "GET") return respondJson(ctx, 200, tenantView(t, tenancy));
    if (method === "PUT") {
      if (!(await registry.configure(tenant, tenantSettings(await jsonBody(ctx)))))
        throw notFound(`no tenant ${tenant}`);
      return respondJson(ctx, 200, tenantView(registry.get(tenant) as Tenant, tenancy));
    }
    if (method !== "DELETE") throw methods("GET, PUT, DELETE");
    await revokeSessions(gw, tenancy, tenant, undefined);
    await registry.delete(tenant);
    ctx.res.writeHead(204).end();
    return;
  }
  if (sub === "servers") return servers(ctx, gw, tenancy, t, item);
  if (sub === "sessions") return sessions(ctx, gw, tenancy, tenant, item);
  if (item === undefined) {
    if (method === "GET") {
      return respondJson(ctx, 200, { keys: Object.values(t.keys).map((k) => ({ id: k.id, createdAt: k.createdAt })) });
    }
    if (method !== "POST") throw methods("GET, POST");
    const created = await registry.addKey(tenant);
    if (!created) throw notFound(`no tenant ${tenant}`);
    return respondJson(ctx, 201, { id: created.id, key: created.key });
  }
  if (method !== "DELETE") throw methods("DELETE");
  if (!(await registry.revokeKey(tenant, item))) throw notFound(`no key ${item}`);
  ctx.res.writeHead(204).end();
}

/** Serve `/admin/v1/...` when the admin API is enabled; true when the request was for it. */
export function serveAdmin(ctx: RequestContext, gw: GatewayState): boolean {
  if (!ctx.path.startsWith(PREFIX) && ctx.path !== "/admin/v1") return false;
  const token = gw.config.admin.token;
  const tenancy = gw.tenancy;
  if (token === undefined || tenancy === undefined) return false;
  const readOnly = !bearerMatches(ctx.req.headers.authorization, token);
  const readToken = gw.config.admin.readToken;
  if (readOnly && (readToken === undefined || !bearerMatches(ctx.req.headers.authorization, readToken))) {
    respondError(
      ctx,
      new SwitchyardError("SWY_ADMIN_UNAUTHORIZED", {
        headers: { "www-authenticate": 'Bearer realm="switchyard-admin"' },
      }),
    );
    return true;
  }
  // The read-only token (`admin.readToken`): GET only.
  if (readOnly && ctx.req.method !== "GET") {
    respondError(ctx, new SwitchyardError("SWY_ADMIN_READ_ONLY"));
    return true;
  }
  handle(ctx, gw, tenancy, readOnly).catch((err: unknown) => {
    if (err instanceof SwitchyardError) respondError(ctx, err);
    else
      respondError(ctx, new SwitchyardError("SWY_STORE_UNAVAILABLE", { headers: { "retry-after": "1" }, cause: err }));
  });
  return true;
}

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** Headers a tenant may not set upstream: hop-by-hop, framing, routing and the gateway's own. */
const RESERVED = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-authorization",
  "mcp-session-id",
  "mcp-protocol-version",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
]);

function serverView(s: TenantServer) {
  return { name: s.name, url: s.url, transport: s.transport, headers: Object.keys(s.headers), createdAt: s.createdAt };
}

function parseServer(
  body: Record<string, unknown>,
  name: string | undefined,
  gw: GatewayState,
  tenant: Tenant,
): TenantServer {
  const serverName = name ?? body.name;
  if (typeof serverName !== "string" || !SERVER_NAME.test(serverName)) throw invalid("name: 1-64 of A-Za-z0-9._-");
  const transport = body.transport ?? "streamable-http";
  if (transport !== "streamable-http" && transport !== "sse") throw invalid("transport: streamable-http or sse");
  const headers: Record<string, string> = {};
  if (body.headers !== undefined) {
    if (!body.headers || typeof body.headers !== "object" || Array.isArray(body.headers))
      throw invalid("headers: an object");
    for (const [k, v] of Object.entries(body.headers as Record<string, unknown>)) {
      if (!HEADER_NAME.test(k) || RESERVED.has(k.toLowerCase()) || typeof v !== "string" || /[\r\n\0]/.test(v)) {
        throw invalid(`headers.${k}: not a header the gateway may send`);
      }
      headers[k.toLowerCase()] = v;
    }
  }
  if (typeof body.url !== "string") throw invalid("url: required");
  const checked = checkRegistrationUrl(body.url, {
    allowHttp: gw.config.admin.allowHttpServers,
    policy: withAllowList(gw.ssrf, tenant.allow ?? []),
  });
  if (!checked.ok) {
    publish("ssrf", { stage: "registration", route: undefined });
    throw new SwitchyardError("SWY_ADMIN_URL_REFUSED", { detail: checked.reason });
  }
  return { name: serverName, url: checked.url, transport, headers, createdAt: new Date().toISOString() };
}

async function servers(
  ctx: RequestContext,
  gw: GatewayState,
  tenancy: Tenancy,
  tenant: Tenant,
  name: string | undefined,
): Promise<void> {
  const registry = tenancy.registry;
  const method = ctx.req.method ?? "GET";
  if (name === undefined) {
    if (method === "GET") return respondJson(ctx, 200, { servers: registry.servers(tenant.id).map(serverView) });
    if (method !== "POST") throw methods("GET, POST");
    const server = parseServer(await jsonBody(ctx), undefined, gw, tenant);
    const result = await registry.putServer(tenant.id, server, "create");
    if (result === undefined) throw notFound(`no tenant ${tenant.id}`);
    if (result === "exists")
      throw new SwitchyardError("SWY_ADMIN_CONFLICT", { detail: `server ${server.name} exists` });
    return respondJson(ctx, 201, serverView(server));
  }
  if (method === "PUT") {
    const server = parseServer(await jsonBody(ctx), name, gw, tenant);
    const result = await registry.putServer(tenant.id, server, "replace");
    if (result === undefined) throw notFound(`no tenant ${tenant.id}`);
    return respondJson(ctx, result === "replaced" ? 200 : 201, serverView(registry.server(tenant.id, name) ?? server));
  }
  const existing = registry.server(tenant.id, name);
  if (!existing) throw notFound(`no server ${name}`);
  if (method === "GET") return respondJson(ctx, 200, serverView(existing));
  if (method !== "DELETE") throw methods("GET, PUT, DELETE");
  await registry.deleteServer(tenant.id, name);
  ctx.res.writeHead(204).end();
}

/** Revoke one session of the tenant (by hash), or all of them: refused on every gateway from now on. */
async function revokeSessions(
  gw: GatewayState,
  tenancy: Tenancy,
  tenant: string,
  id: string | undefined,
): Promise<number> {
  const live = await tenancy.ledger.list(tenant);
  const chosen = id === undefined ? live : live.filter((s) => s.id === id);
  const until = revokedUntil(gw);
  for (const s of chosen) {
    await gw.store.revokeKey(s.id, until);
    await tenancy.ledger.remove(tenant, s.id);
    publish("session", {
      route: `${tenant}/${s.server}`,
      session: s.id.slice(0, 12),
      replica: s.replica,
      action: "revoked",
      reason: "admin",
    });
  }
  return chosen.length;
}

async function sessions(
  ctx: RequestContext,
  gw: GatewayState,
  tenancy: Tenancy,
  tenant: string,
  id: string | undefined,
): Promise<void> {
  const method = ctx.req.method ?? "GET";
  if (method === "GET" && id === undefined) {
    const now = Date.now();
    const list = (await tenancy.ledger.list(tenant)).map((s) => ({
      id: s.id,
      server: s.server,
      replica: s.replica,
      principal: s.principal,
      ...sessionTimes(s, now),
    }));
    return respondJson(ctx, 200, { sessions: list });
  }
  if (method !== "DELETE") throw methods(id === undefined ? "GET, DELETE" : "DELETE");
  const revoked = await revokeSessions(gw, tenancy, tenant, id);
  if (id !== undefined && revoked === 0) throw notFound(`no session ${id}`);
  return respondJson(ctx, 200, { revoked });
}
