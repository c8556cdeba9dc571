import { SwitchyardError } from "../errors.js";
import { isObject, type Json } from "./json.js";
import { gatewayId, MemberError } from "./member-link.js";
import type { Caller } from "./members.js";
import { decodeCursor, LISTS, type ListMethod, mergePages, type Page } from "./merge.js";
import type { Reply } from "./reply.js";
import type { VirtualServer } from "./virtual-server.js";

/**
 * One page of a merged list: each member's page (its own cursor from the client's), names as the client
 * sees them. A member that fails is left out of the list (`onMemberFailure: open`) or fails it (`closed`).
 */
export async function mergedList(
  v: VirtualServer,
  method: ListMethod,
  params: Json,
  caller: Caller,
  reply: Reply,
  /** The answer may go out as a stream when a member's does (a legacy client); a modern one gets JSON, cacheable. */
  streams: boolean,
): Promise<Json> {
  const names = v.members.names;
  let cursors: Record<string, string | null>;
  if (typeof params.cursor === "string") {
    const decoded = decodeCursor(params.cursor, names);
    if (!decoded) throw new SwitchyardError("SWY_UNKNOWN_NAME", { detail: "not a cursor of this server" });
    cursors = decoded;
  } else {
    cursors = Object.fromEntries(names.map((m) => [m, null]));
  }
  await v.current();
  const spec = LISTS[method];
  const pages = await Promise.all(
    Object.entries(cursors).map(async ([member, cursor]): Promise<Page | undefined> => {
      const { cursor: _, ...rest } = params;
      try {
        const answered = await v.members.request(
          member,
          { jsonrpc: "2.0", id: gatewayId(), method, params: cursor === null ? rest : { ...rest, cursor } },
          caller,
          { onStream: () => streams && reply.stream(), onMessage: (m) => reply.message(member, m) },
        );
        const result = isObject(answered.answer?.result) ? answered.answer.result : {};
        const raw = Array.isArray(result[spec.items]) ? (result[spec.items] as Json[]) : [];
        const items: Json[] = [];
        for (const item of raw) {
          if (spec.kind === "tool" || spec.kind === "prompt") {
            const exposed = typeof item.name === "string" ? v.exposed(spec.kind, member, item.name) : undefined;
            if (exposed !== undefined) items.push({ ...item, name: exposed });
          } else if (!(spec.kind === "resource" && v.withheldResource(item.uri))) {
            items.push(item);
          }
        }
        return {
          member,
          items,
          nextCursor: typeof result.nextCursor === "string" ? result.nextCursor : undefined,
          ttlMs: result.ttlMs,
          cacheScope: result.cacheScope,
        };
      } catch (err) {
        if (err instanceof MemberError && v.config.onMemberFailure === "open") return undefined;
        throw err;
      }
    }),
  );
  return mergePages(
    method,
    pages.filter((p): p is Page => p !== undefined),
  );
}
