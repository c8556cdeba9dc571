import { META, metaOf, type RpcMessage } from "./jsonrpc.js";

/**
 * Which modern-protocol answers a shared cache may keep (2026-07-28 `CacheableResult`), and under what
 * key. Pure.
 */

export const CACHEABLE_METHODS: ReadonlySet<string> = new Set([
  "tools/list",
  "resources/list",
  "prompts/list",
  "resources/templates/list",
  "server/discover",
]);

/** JSON with object keys sorted (but `omit`), so that equal params give equal keys. */
function stable(value: unknown, omit?: string): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => stable(v)).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const names = Object.keys(obj);
  if (names.length === 0 || (names.length === 1 && names[0] === omit)) return "{}";
  return `{${names
    .sort()
    .filter((k) => k !== omit && obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stable(obj[k])}`)
    .join(",")}}`;
}

/**
 * What makes two requests the same question: the method, its params (the cursor, filters), the
 * protocol version and the client's capabilities. The rest of `_meta` (client info, progress tokens,
 * trace context) does not change the answer and is left out, so that every client shares one entry.
 */
export function cacheKey(message: RpcMessage): string {
  const version = metaOf(message, META.protocolVersion);
  const capabilities = metaOf(message, META.clientCapabilities);
  return `${message.method}\u0000${stable(message.params ?? {}, "_meta")}\u0000${stable(version)}\u0000${stable(capabilities)}`;
}

export interface CacheDirective {
  ttlMs: number;
  scope: "public" | "private";
}

/** The result's own cache hints, when they allow keeping it (a positive `ttlMs` and a known scope). */
export function cacheDirective(result: unknown): CacheDirective | undefined {
  if (result === null || typeof result !== "object") return undefined;
  const { ttlMs, cacheScope } = result as Record<string, unknown>;
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) return undefined;
  if (cacheScope !== "public" && cacheScope !== "private") return undefined;
  return { ttlMs, scope: cacheScope };
}
