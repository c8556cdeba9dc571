import { isObject, type Json } from "./json.js";
/**
 * What a virtual server says as one server, from what its members say: the union of their
 * capabilities, their instructions together, their lists merged page by page (a cursor carries each
 * member's own cursor), list cache hints (the smallest `ttlMs`, the stricter `cacheScope`). Pure.
 */

/** The lists a virtual server merges: the method → the result's array and what names its items. */
export const LISTS = {
  "tools/list": { items: "tools", key: "name", kind: "tool" },
  "prompts/list": { items: "prompts", key: "name", kind: "prompt" },
  "resources/list": { items: "resources", key: "uri", kind: "resource" },
  "resources/templates/list": { items: "resourceTemplates", key: "uriTemplate", kind: "template" },
} as const;

export type ListMethod = keyof typeof LISTS;

export function isListMethod(method: string | undefined): method is ListMethod {
  return method !== undefined && Object.hasOwn(LISTS, method);
}

/**
 * The capabilities of the members together: a capability any member has; within one, a flag any member
 * sets. The lists' `listChanged` is always set: members come and go behind a virtual server, and it says so.
 */
export function mergeCapabilities(members: readonly Json[]): Json {
  const out: Json = {};
  for (const caps of members) {
    for (const [name, value] of Object.entries(caps)) {
      if (!isObject(value)) continue;
      const into = (out[name] ?? {}) as Json;
      for (const [flag, v] of Object.entries(value)) {
        if (v === true || into[flag] === undefined) into[flag] = v;
      }
      out[name] = into;
    }
  }
  for (const list of ["tools", "prompts", "resources"]) {
    if (isObject(out[list])) (out[list] as Json).listChanged = true;
  }
  return out;
}

/** The virtual server's own instructions, then each member's under its name. */
export function mergeInstructions(
  own: string | undefined,
  members: ReadonlyArray<[string, unknown]>,
): string | undefined {
  const parts = own === undefined ? [] : [own];
  for (const [member, text] of members) {
    if (typeof text === "string" && text.trim() !== "") parts.push(`## ${member}\n\n${text.trim()}`);
  }
  return parts.length === 0 ? undefined : parts.join("\n\n");
}

/** Where a merged list goes on: each member's next cursor (members that are done are left out). */
export type MergedCursor = Record<string, string | null>;

/** A merged list's cursor as the client sees it (opaque); undefined when every member is done. */
export function encodeCursor(cursor: MergedCursor): string | undefined {
  return Object.keys(cursor).length === 0 ? undefined : Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

/**
 * A client's cursor → each member's cursor (`null`: its first page; members absent are done); undefined
 * if it is not one of ours (the client gets -32602, as a server answers a cursor it never gave).
 */
export function decodeCursor(text: string, members: readonly string[]): MergedCursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as unknown;
    if (!isObject(value)) return undefined;
    const out: MergedCursor = {};
    for (const [member, c] of Object.entries(value)) {
      if (!members.includes(member) || !(c === null || typeof c === "string")) return undefined;
      out[member] = c;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** A member's page of a list, its items already renamed for the client. */
export interface Page {
  member: string;
  items: Json[];
  nextCursor: string | undefined;
  ttlMs?: unknown;
  cacheScope?: unknown;
}

/**
 * One merged page: the members' items in member order, the cursor that carries each member's next
 * one, and (when every member gave them) the cache hints: the smallest `ttlMs`, `private` if any is.
 */
export function mergePages(method: ListMethod, pages: readonly Page[]): Json {
  const items: Json[] = [];
  const next: MergedCursor = {};
  let ttlMs: number | undefined;
  let scope: "public" | "private" | undefined;
  let hinted = pages.length > 0;
  for (const page of pages) {
    items.push(...page.items);
    if (page.nextCursor !== undefined) next[page.member] = page.nextCursor;
    if (typeof page.ttlMs === "number" && (page.cacheScope === "public" || page.cacheScope === "private")) {
      ttlMs = ttlMs === undefined ? page.ttlMs : Math.min(ttlMs, page.ttlMs);
      scope = scope === "private" || page.cacheScope === "private" ? "private" : "public";
    } else {
      hinted = false;
    }
  }
  const result: Json = { [LISTS[method].items]: items };
  const cursor = encodeCursor(next);
  if (cursor !== undefined) result.nextCursor = cursor;
  if (hinted && ttlMs !== undefined) {
    result.ttlMs = ttlMs;
    result.cacheScope = scope;
  }
  return result;
}
