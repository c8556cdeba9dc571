import type { AuthConfig } from "../config/schema.js";
import type { RpcMessage } from "../protocol/jsonrpc.js";
import { scopesFor } from "./scopes.js";

/** The list requests a token may see only part of, the array they answer with, and what names an item. */
const LISTS: Record<string, { kind: "tools" | "prompts" | "resources"; key: "name" | "uri" }> = {
  "tools/list": { kind: "tools", key: "name" },
  "prompts/list": { kind: "prompts", key: "name" },
  "resources/list": { kind: "resources", key: "uri" },
};

export type ListFilter = (result: Record<string, unknown>) => Record<string, unknown>;

/**
 * For a list request (one message, `tools/list`, `prompts/list` or `resources/list`): a filter that keeps
 * only the items the token's scopes allow using (pure). Undefined when the list need not be filtered:
 * another request, no per-item scopes for that kind, or a token that has them all.
 */
export function listFilter(
  auth: AuthConfig,
  messages: readonly RpcMessage[],
  granted: ReadonlySet<string>,
): ListFilter | undefined {
  const list = messages.length === 1 ? LISTS[messages[0]?.method ?? ""] : undefined;
  if (!list) return undefined;
  const patterns = auth[list.kind];
  const needed = new Set(Object.values(patterns).flat());
  if ([...needed].every((s) => granted.has(s))) return undefined;
  return (result) => {
    const items = result[list.kind];
    if (!Array.isArray(items)) return result;
    const allowed = items.filter((item: Record<string, unknown>) =>
      scopesFor(patterns, item?.[list.key]).every((s) => granted.has(s)),
    );
    return { ...result, [list.kind]: allowed };
  };
}
