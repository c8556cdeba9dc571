import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "../gateway/context.js";
import { readBody } from "../gateway/read-body.js";
import { respondError, respondJson } from "../gateway/respond.js";
import type { AddressPolicy } from "../security/address-policy.js";
import { bearerMatches } from "../security/bearer.js";
import { checkRegistrationUrl } from "../security/registration-url.js";
import { TENANT_ID, type TenantRegistry, type TenantServer } from "./registry.js";

const PREFIX = "/admin/v1/";

async function jsonBody(ctx: RequestContext): Promise<Record<string, unknown>> {
  const text = (await readBody(ctx.req, 64 * 1024)).toString("utf8");
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new SwitchyardError("SWY_ADMIN_INVALID", { detail: "the body must be a JSON object" });
}

const tenantView = (t: { id: string; createdAt: string; keys: Record<string, unknown> }) => ({
  id: t.id,
  createdAt: t.createdAt,
  keys: Object.keys(t.keys).length,
});

/**
 * The admin API (`/admin/v1`, bearer token from `admin.token`): tenants and their keys.
 *   POST/GET /tenants, GET/DELETE /tenants/ID, POST/GET /tenants/ID/keys, DELETE /tenants/ID/keys/KEY_ID.
 * A key is shown once, at creation; listings show ids and dates only.
 *   POST/GET /tenants/ID/servers, PUT/GET/DELETE /tenants/ID/servers/NAME: a server's URL is checked
 *   (https, no userinfo, sane port, no internal literal address: 422 otherwise); its upstream headers are
 *   secrets, listed by name only.
 */
async function handle(ctx: RequestContext, registry: TenantRegistry, options: AdminOptions): Promise<void> {
  const method = ctx.req.method ?? "GET";
  const parts = ctx.path.slice(PREFIX.length).split("/").filter(Boolean).map(decodeURIComponent);
  const [collection, tenant, sub, keyId] = parts;
  if (collection !== "tenants" || parts.length > 4 || (sub !== undefined && sub !== "keys" && sub !== "servers")) {
    throw new SwitchyardError("SWY_ADMIN_NOT_FOUND");
  }
  if (tenant === undefined) {
    if (method === "GET") return respondJson(ctx, 200, { tenants: registry.list().map(tenantView) });
    if (method !== "POST") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET, POST" } });
    const id = (await jsonBody(ctx)).id;
    if (typeof id !== "string" || !TENANT_ID.test(id)) {
      throw new SwitchyardError("SWY_ADMIN_INVALID", {
        detail: "id: 1-63 of a-z, 0-9 and -, starting with a letter or digit",
      });
    }
    if (!registry.create(id)) throw new SwitchyardError("SWY_ADMIN_CONFLICT", { detail: `tenant ${id} exists` });
    return respondJson(ctx, 201, tenantView(registry.get(id) as NonNullable<ReturnType<TenantRegistry["get"]>>));
  }
  const t = registry.get(tenant);
  if (!t) throw new SwitchyardError("SWY_ADMIN_NOT_FOUND", { detail: `no tenant ${tenant}` });
  if (sub === undefined) {
    if (method === "GET") return respondJson(ctx, 200, tenantView(t));
    if (method !== "DELETE") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET, DELETE" } });
    registry.delete(tenant);
    ctx.res.writeHead(204).end();
    return;
  }
  if (sub === "servers") return servers(ctx, registry, tenant, keyId, options);
  if (keyId === undefined) {
    if (method === "GET") {
      return respondJson(ctx, 200, { keys: Object.values(t.keys).map((k) => ({ id: k.id, createdAt: k.createdAt })) });
    }
    if (method !== "POST") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET, POST" } });
    const created = registry.addKey(tenant);
    if (!created) throw new SwitchyardError("SWY_ADMIN_NOT_FOUND");
    return respondJson(ctx, 201, { id: created.id, key: created.key });
  }
  if (method !== "DELETE") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "DELETE" } });
  if (!registry.revokeKey(tenant, keyId))
    throw new SwitchyardError("SWY_ADMIN_NOT_FOUND", { detail: `no key ${keyId}` });
  ctx.res.writeHead(204).end();
}

/** Serve `/admin/v1/...` when the admin API is enabled; true when the request was for it. */
export function serveAdmin(
  ctx: RequestContext,
  token: string | undefined,
  registry: TenantRegistry | undefined,
  options: AdminOptions,
): boolean {
  if (!ctx.path.startsWith(PREFIX) && ctx.path !== "/admin/v1") return false;
  if (token === undefined || registry === undefined) return false;
  if (!bearerMatches(ctx.req.headers.authorization, token)) {
    respondError(
      ctx,
      new SwitchyardError("SWY_ADMIN_UNAUTHORIZED", {
        headers: { "www-authenticate": 'Bearer realm="switchyard-admin"' },
      }),
    );
    return true;
  }
  handle(ctx, registry, options).catch((err: unknown) => {
    if (err instanceof SwitchyardError) respondError(ctx, err);
    else respondError(ctx, new SwitchyardError("SWY_ADMIN_INVALID", { cause: err }));
  });
  return true;
}

export interface AdminOptions {
  allowHttp: boolean;
  policy: AddressPolicy;
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

function parseServer(body: Record<string, unknown>, name: string | undefined, options: AdminOptions): TenantServer {
  const invalid = (detail: string) => new SwitchyardError("SWY_ADMIN_INVALID", { detail });
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
  const checked = checkRegistrationUrl(body.url, options);
  if (!checked.ok) throw new SwitchyardError("SWY_ADMIN_URL_REFUSED", { detail: checked.reason });
  return { name: serverName, url: checked.url, transport, headers, createdAt: new Date().toISOString() };
}

async function servers(
  ctx: RequestContext,
  registry: TenantRegistry,
  tenant: string,
  name: string | undefined,
  options: AdminOptions,
): Promise<void> {
  const method = ctx.req.method ?? "GET";
  if (name === undefined) {
    if (method === "GET") return respondJson(ctx, 200, { servers: registry.servers(tenant).map(serverView) });
    if (method !== "POST") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET, POST" } });
    const server = parseServer(await jsonBody(ctx), undefined, options);
    if (registry.servers(tenant).some((s) => s.name === server.name)) {
      throw new SwitchyardError("SWY_ADMIN_CONFLICT", { detail: `server ${server.name} exists` });
    }
    registry.putServer(tenant, server);
    return respondJson(ctx, 201, serverView(server));
  }
  const existing = registry.servers(tenant).find((s) => s.name === name);
  if (method === "PUT") {
    const server = parseServer(await jsonBody(ctx), name, options);
    registry.putServer(tenant, existing ? { ...server, createdAt: existing.createdAt } : server);
    return respondJson(ctx, existing ? 200 : 201, serverView(server));
  }
  if (!existing) throw new SwitchyardError("SWY_ADMIN_NOT_FOUND", { detail: `no server ${name}` });
  if (method === "GET") return respondJson(ctx, 200, serverView(existing));
  if (method !== "DELETE")
    throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET, PUT, DELETE" } });
  registry.deleteServer(tenant, name);
  ctx.res.writeHead(204).end();
}
