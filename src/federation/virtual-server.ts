import type { RouteAuth } from "../auth/route-auth.js";
import type { VirtualConfig } from "../config/virtual-schema.js";
import type { UpstreamInfo } from "../discovery/upstream-info.js";
import { SUPPORTED_MODERN_VERSIONS } from "../protocol/modern-request.js";
import { LATEST_LEGACY_VERSION, LEGACY_VERSIONS } from "../protocol/versions.js";
import type { SessionStore } from "../sessions/store.js";
import type { UpstreamPool } from "../upstream/pool.js";
import { Catalog, listAll, templatePattern } from "./catalog.js";
import { MemberLink } from "./member-link.js";
import { type Caller, Members } from "./members.js";
import { LISTS, type ListMethod, mergeCapabilities } from "./merge.js";
import { exposedName, type NamePolicy, type Origin } from "./names.js";

/** How old a catalog may be before a name it does not know makes the gateway ask the members again. */
const CATALOG_FRESH_MS = 1_000;

/** The gateway asking for itself (the catalog): no client, no virtual session. */
const GATEWAY_CALLER: Caller = {
  principal: "\u0000gateway",
  hello: { protocolVersion: LATEST_LEGACY_VERSION, capabilities: {}, clientInfo: { name: "switchyard", version: "1" } },
  session: undefined,
};

/**
 * A virtual server (`virtual.NAME`): its members, how it names their tools and prompts, and the catalog
 * of what they serve. The front (`serve.ts`) answers clients with it.
 */
export class VirtualServer {
  readonly members: Members;
  /** Set when the virtual server needs a bearer token (its own `auth`, or the top-level one). */
  readonly auth: RouteAuth | undefined;
  readonly policy: NamePolicy;
  /** Renamed name → the prefixed name it stands for. */
  private readonly renamedFrom = new Map<string, string>();
  /** Each member's prefix (`{member}` filled in), longest first: the first that starts a name names its member. */
  private readonly prefixes: readonly { member: string; prefix: string }[];
  private catalog: Catalog | undefined;
  private building: Promise<Catalog> | undefined;

  constructor(
    readonly name: string,
    readonly config: VirtualConfig,
    pools: ReadonlyMap<string, UpstreamPool>,
    store: SessionStore,
    options: { headersTimeoutMs: number; idleTtlMs: number; auth?: RouteAuth | undefined },
  ) {
    this.auth = options.auth;
    const links = new Map<string, MemberLink>();
    for (const member of config.members) {
      const pool = pools.get(member);
      if (pool) links.set(member, new MemberLink(member, pool, options.headersTimeoutMs));
    }
    this.members = new Members(name, links, store, options.idleTtlMs);
    this.policy = { prefix: config.prefix, allow: config.tools.allow, deny: config.tools.deny, rename: config.rename };
    for (const [from, to] of Object.entries(config.rename)) this.renamedFrom.set(to, from);
    this.prefixes = config.members
      .map((member) => ({ member, prefix: config.prefix.replaceAll("{member}", member) }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * Ask every member what it serves. Names that collide refuse the configuration (at start, on reload):
   * the error names them. A member that cannot be reached now is not an error: it is asked again later.
   */
  async start(): Promise<void> {
    const catalog = await this.refresh();
    const collisions = catalog.collisions();
    if (collisions.length > 0) {
      throw new Error(`virtual server ${this.name}: names collide: ${collisions.join("; ")}`);
    }
  }

  /** A new catalog (one at a time: callers asking meanwhile share it). */
  refresh(): Promise<Catalog> {
    this.building ??= Catalog.build(this.members, this.policy, GATEWAY_CALLER).then(
      (catalog) => {
        this.catalog = catalog;
        this.building = undefined;
        return catalog;
      },
      (err: unknown) => {
        this.building = undefined;
        throw err;
      },
    );
    return this.building;
  }

  /** The catalog, built first if there is none yet. */
  current(): Promise<Catalog> {
    return this.catalog ? Promise.resolve(this.catalog) : this.refresh();
  }

  /** A member tool's input schema, as the catalog last listed it (undefined if it has not). */
  inputSchema(origin: Origin): unknown {
    return this.catalog?.inputSchema(origin);
  }

  /** The name a client sees for a member's tool or prompt; undefined if withheld (policy, or a collision). */
  exposed(kind: "tool" | "prompt", member: string, name: string): string | undefined {
    const exposed = exposedName(this.policy, member, name, kind);
    if (exposed === undefined) return undefined;
    const table = kind === "tool" ? this.catalog?.tools : this.catalog?.prompts;
    return table?.collided(exposed) ? undefined : exposed;
  }

  /**
   * The member and original name of a tool or prompt a client named: from the prefix when it names the
   * member (`{member}`), else from the catalog (asked again if the name is new to it), else from what the
   * caller itself is shown (a member may list some tools only to clients with a capability, or none).
   */
  resolve(kind: "tool" | "prompt", exposed: string, caller: Caller): Origin | undefined | Promise<Origin | undefined> {
    const prefixed =
      this.renamedFrom.get(exposed) ?? (Object.hasOwn(this.policy.rename, exposed) ? undefined : exposed);
    if (prefixed === undefined) return undefined;
    const prefix = this.policy.prefix;
    if (!prefix.includes("{member}")) return this.resolveListed(kind, exposed, prefixed, caller);
    const found = this.prefixes.find((p) => prefixed.length > p.prefix.length && prefixed.startsWith(p.prefix));
    if (!found) return undefined;
    const best = { member: found.member, name: prefixed.slice(found.prefix.length) };
    return this.exposed(kind, best.member, best.name) === exposed ? best : undefined;
  }

  /** `resolve` where the prefix does not name the member: the catalog, else what the caller is shown. */
  private async resolveListed(
    kind: "tool" | "prompt",
    exposed: string,
    prefixed: string,
    caller: Caller,
  ): Promise<Origin | undefined> {
    const prefix = this.policy.prefix;
    let catalog = await this.current();
    const table = () => (kind === "tool" ? catalog.tools : catalog.prompts);
    if (table().collided(exposed)) return undefined;
    let found = table().get(exposed);
    if (!found && Date.now() - catalog.builtAt >= CATALOG_FRESH_MS) {
      catalog = await this.refresh();
      found = table().get(exposed);
    }
    if (found || !prefixed.startsWith(prefix)) return found;
    const name = prefixed.slice(prefix.length);
    const member = await this.unlisted(catalog, kind === "tool" ? "tools" : "prompts", name, caller);
    return member !== undefined && this.exposed(kind, member, name) === exposed ? { member, name } : undefined;
  }

  /** The member of a resource URI: listed or matched by a template (the catalog), else as for `resolve`. */
  async resourceOwner(uri: string, caller: Caller): Promise<string | undefined> {
    let catalog = await this.current();
    if (catalog.resources.collided(uri)) return undefined;
    let found = catalog.resourceOwner(uri)?.member;
    if (found === undefined && Date.now() - catalog.builtAt >= CATALOG_FRESH_MS) {
      catalog = await this.refresh();
      found = catalog.resourceOwner(uri)?.member;
    }
    return found ?? this.unlisted(catalog, "resources", uri, caller);
  }

  /**
   * A name the catalog does not list: the one member that serves such things at all (it answers for the
   * name itself), else the one whose lists, as the caller is shown them, hold it.
   */
  private async unlisted(
    catalog: Catalog,
    capability: "tools" | "prompts" | "resources",
    name: string,
    caller: Caller,
  ): Promise<string | undefined> {
    const candidates = this.members.names.filter((m) => {
      const info = catalog.infos.get(m);
      return info === undefined || info.capabilities[capability] !== undefined;
    });
    if (candidates.length <= 1) return candidates[0];
    const methods: ListMethod[] =
      capability === "tools"
        ? ["tools/list"]
        : capability === "prompts"
          ? ["prompts/list"]
          : ["resources/list", "resources/templates/list"];
    const holds = (item: Record<string, unknown>, key: string) =>
      item[key] === name ||
      (key === "uriTemplate" && typeof item[key] === "string" && templatePattern(item[key]).test(name));
    const holders = await Promise.all(
      candidates.map(async (member) => {
        for (const method of methods) {
          const items = await listAll(this.members, member, method, caller).catch(() => []);
          if (items.some((item) => holds(item, LISTS[method].key))) return member;
        }
        return undefined;
      }),
    );
    const found = holders.filter((m): m is string => m !== undefined);
    return found.length === 1 ? found[0] : undefined;
  }

  /** Whether two members list this resource URI (then neither serves it here). */
  withheldResource(uri: unknown): boolean {
    return typeof uri === "string" && this.catalog?.resources.collided(uri) === true;
  }

  /**
   * What the discovery documents say of it: its own `serverInfo`, every protocol version it speaks (it
   * bridges eras), its members' capabilities together. Undefined until the catalog is built.
   */
  discoveryInfo(): UpstreamInfo | undefined {
    const catalog = this.catalog;
    if (!catalog) return undefined;
    return {
      serverInfo: this.config.serverInfo ?? { name: this.name, version: "1.0.0" },
      protocolVersions: [...LEGACY_VERSIONS, ...SUPPORTED_MODERN_VERSIONS],
      capabilities: mergeCapabilities([...catalog.infos.values()].map((i) => i.capabilities)),
      tools: undefined,
      fetchedAt: catalog.builtAt,
    };
  }

  /** Host strings of its members' replicas: never to appear in a document. */
  internalHosts(): string[] {
    return this.members.names.flatMap((m) => this.members.links.get(m)?.hosts() ?? []);
  }

  /** Members with no healthy replica now. */
  down(): string[] {
    return this.members.names.filter((m) => !this.members.links.get(m)?.available());
  }

  close(): Promise<void> {
    return this.members.release();
  }
}
