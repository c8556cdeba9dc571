import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "../gateway/context.js";
import { readBody } from "../gateway/read-body.js";
import { respondError, respondJson } from "../gateway/respond.js";
import { bearerMatches } from "../security/bearer.js";
import { TENANT_ID, type TenantRegistry } from "./registry.js";

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
 */
async function handle(ctx: RequestContext, registry: TenantRegistry): Promise<void> {
  const method = ctx.req.method ?? "GET";
  const parts = ctx.path.slice(PREFIX.length).split("/").filter(Boolean).map(decodeURIComponent);
  const [collection, tenant, sub, keyId] = parts;
  if (collection !== "tenants" || parts.length > 4 || (sub !== undefined && sub !== "keys")) {
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
  handle(ctx, registry).catch((err: unknown) => {
    if (err instanceof SwitchyardError) respondError(ctx, err);
    else respondError(ctx, new SwitchyardError("SWY_ADMIN_INVALID", { cause: err }));
  });
  return true;
}
