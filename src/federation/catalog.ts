import type { Json } from "./json.js";
import { gatewayId } from "./member-link.js";
import type { Caller, MemberInfo, Members } from "./members.js";
import { LISTS, type ListMethod } from "./merge.js";
import { exposedName, type NamePolicy, NameTable, type Origin } from "./names.js";

/** Pages read from one member's list before the catalog gives up on it (a member paging forever). */
const MAX_PAGES = 100;

/** A URI template (RFC 6570) as a pattern: `{var}` one path segment, `{+var}` / `{#var}` anything. */
export function templatePattern(template: string): RegExp {
  const parts = template.split(/(\{[^}]*\})/);
  const body = parts
    .map((p) => {
      if (!p.startsWith("{")) return p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return /^\{[+#]/.test(p) ? ".*" : "[^/?#]*";
    })
    .join("");
  return new RegExp(`^${body}$`, "s");
}

/**
 * What every member serves, as the gateway itself sees it: who each member is, and the names of its
 * tools, prompts, resources and templates, mapped back from the names a client sees. It routes calls
 * where the prefix alone cannot (no `{member}` in it, renames), and finds collisions: at start and on
 * reload they refuse the configuration; later (a member changed) the colliding names are withheld.
 */
export class Catalog {
  readonly tools = new NameTable();
  readonly prompts = new NameTable();
  readonly resources = new NameTable();
  readonly infos = new Map<string, MemberInfo>();
  private readonly templates: Array<{ member: string; pattern: RegExp }> = [];
  /** Each member tool's input schema (by `member\u0000name`): a modern member's `Mcp-Param-*` headers come from it. */
  private readonly schemas = new Map<string, unknown>();
  /** Members that could not be reached when it was built. */
  readonly down: string[] = [];
  readonly builtAt = Date.now();

  inputSchema(origin: Origin): unknown {
    return this.schemas.get(`${origin.member}\u0000${origin.name}`);
  }

  /** Resources of a URI that no member lists, but one member's template matches. */
  templateOwner(uri: string): string | undefined {
    return this.templates.find((t) => t.pattern.test(uri))?.member;
  }

  /** Every colliding name, of every kind. */
  collisions(): string[] {
    return [
      ...this.tools.collisions().map((c) => `tool ${c}`),
      ...this.prompts.collisions().map((c) => `prompt ${c}`),
      ...this.resources.collisions().map((c) => `resource ${c}`),
    ];
  }

  /** The catalog of `members` now: each member asked who it is and for every page of its lists. */
  static async build(members: Members, policy: NamePolicy, caller: Caller): Promise<Catalog> {
    const catalog = new Catalog();
    const read = await Promise.all(
      members.names.map(async (member) => {
        try {
          const info = await members.info(member, caller.hello);
          const lists: Partial<Record<ListMethod, Json[]>> = {};
          for (const method of Object.keys(LISTS) as ListMethod[]) {
            const capability = method.startsWith("tools")
              ? "tools"
              : method.startsWith("prompts")
                ? "prompts"
                : "resources";
            if (info.capabilities[capability] === undefined) continue;
            lists[method] = await listAll(members, member, method, caller);
          }
          return { member, info, lists };
        } catch {
          return { member, info: undefined, lists: {} };
        }
      }),
    ).finally(() => members.release(caller.principal));
    for (const { member, info, lists } of read) {
      if (!info) {
        catalog.down.push(member);
        continue;
      }
      catalog.infos.set(member, info);
      for (const tool of lists["tools/list"] ?? []) {
        const name = tool.name;
        if (typeof name !== "string") continue;
        catalog.schemas.set(`${member}\u0000${name}`, tool.inputSchema);
        const exposed = exposedName(policy, member, name, "tool");
        if (exposed !== undefined) catalog.tools.add(exposed, { member, name });
      }
      for (const prompt of lists["prompts/list"] ?? []) {
        const name = prompt.name;
        if (typeof name === "string")
          catalog.prompts.add(exposedName(policy, member, name, "prompt") as string, { member, name });
      }
      for (const resource of lists["resources/list"] ?? []) {
        if (typeof resource.uri === "string") catalog.resources.add(resource.uri, { member, name: resource.uri });
      }
      for (const template of lists["resources/templates/list"] ?? []) {
        if (typeof template.uriTemplate === "string") {
          catalog.templates.push({ member, pattern: templatePattern(template.uriTemplate) });
        }
      }
    }
    return catalog;
  }

  /** The member of a resource URI: listed, else matched by a template. */
  resourceOwner(uri: string): Origin | undefined {
    const listed = this.resources.get(uri);
    if (listed) return listed;
    const member = this.templateOwner(uri);
    return member === undefined ? undefined : { member, name: uri };
  }
}

/** Every page of one member's list. */
export async function listAll(members: Members, member: string, method: ListMethod, caller: Caller): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await members.request(
      member,
      { jsonrpc: "2.0", id: gatewayId(), method, params: cursor === undefined ? {} : { cursor } },
      caller,
    );
    const result = answer.answer?.result as Json | undefined;
    const list = result?.[LISTS[method].items];
    if (Array.isArray(list)) items.push(...(list as Json[]));
    cursor = typeof result?.nextCursor === "string" ? result.nextCursor : undefined;
    if (cursor === undefined) break;
  }
  return items;
}
