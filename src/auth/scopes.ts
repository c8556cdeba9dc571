import type { AuthConfig } from "../config/schema.js";
import type { RpcMessage } from "../protocol/jsonrpc.js";

/** `*` matches any run of characters; everything else literally. */
function matches(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(value);
}

/** The scopes the patterns of `map` ask for `name` (a tool's or prompt's name, a resource's URI). */
export function scopesFor(map: Record<string, string[]>, name: unknown): string[] {
  if (typeof name !== "string") return [];
  return Object.entries(map).flatMap(([pattern, scopes]) => (matches(pattern, name) ? scopes : []));
}

/**
 * Every scope the request needs (pure): the route's own, and for each call in the body the extra scopes
 * its tool, prompt or resource names. Sorted, without repeats: what a 403 challenge asks for.
 */
export function requiredScopes(auth: AuthConfig, messages: readonly RpcMessage[]): string[] {
  const needed = new Set(auth.scopes);
  for (const m of messages) {
    if (m.kind !== "request") continue;
    const params = m.params as { name?: unknown; uri?: unknown } | undefined;
    const more =
      m.method === "tools/call"
        ? scopesFor(auth.tools, params?.name)
        : m.method === "prompts/get"
          ? scopesFor(auth.prompts, params?.name)
          : m.method === "resources/read" || m.method === "resources/subscribe"
            ? scopesFor(auth.resources, params?.uri)
            : [];
    for (const s of more) needed.add(s);
  }
  return [...needed].sort();
}

/** Every scope the route knows of (its metadata's `scopes_supported`). */
export function knownScopes(auth: AuthConfig): string[] {
  const all = new Set(auth.scopes);
  for (const map of [auth.tools, auth.prompts, auth.resources])
    for (const list of Object.values(map)) for (const s of list) all.add(s);
  return [...all].sort();
}
