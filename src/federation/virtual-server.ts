import type { VirtualConfig } from "../config/virtual-schema.js";
import { LATEST_LEGACY_VERSION } from "../protocol/versions.js";
import type { SessionStore } from "../sessions/store.js";
import type { UpstreamPool } from "../upstream/pool.js";
import { Catalog } from "./catalog.js";
import { MemberLink } from "./member-link.js";
import { type Caller, Members } from "./members.js";
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
  readonly policy: NamePolicy;
  /** Renamed name → the prefixed name it stands for; and the prefixed names renamed away. */
  private readonly renamedFrom = new Map<string, string>();
  private readonly renamedAway = new Set<string>();
  private catalog: Catalog | undefined;
  private building: Promise<Catalog> | undefined;

  constructor(
    readonly name: string,
    readonly config: VirtualConfig,
    pools: ReadonlyMap<string, UpstreamPool>,
    store: SessionStore,
    headersTimeoutMs: number,
  ) {
    const links = new Map<string, MemberLink>();
    for (const member of config.members) {
      const pool = pools.get(member);
      if (pool) links.set(member, new MemberLink(member, pool, headersTimeoutMs));
    }
    this.members = new Members(name, links, store);
    this.policy = { prefix: config.prefix, allow: config.tools.allow, deny: config.tools.deny, rename: config.rename };
    for (const [from, to] of Object.entries(config.rename)) {
      this.renamedFrom.set(to, from);
      this.renamedAway.add(from);
    }
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

  /** The name a client sees for a member's tool or prompt; undefined if withheld (policy, or a collision). */
  exposed(kind: "tool" | "prompt", member: string, name: string): string | undefined {
    const exposed = exposedName(this.policy, member, name, kind);
    if (exposed === undefined) return undefined;
    const table = kind === "tool" ? this.catalog?.tools : this.catalog?.prompts;
    return table?.collided(exposed) ? undefined : exposed;
  }

  /**
   * The member and original name of a tool or prompt a client named: from the prefix when it names the
   * member (`{member}`), else from the catalog (asked again if the name is new to it).
   */
  async resolve(kind: "tool" | "prompt", exposed: string): Promise<Origin | undefined> {
    const prefixed = this.renamedFrom.get(exposed) ?? (this.renamedAway.has(exposed) ? undefined : exposed);
    if (prefixed === undefined) return undefined;
    if (this.policy.prefix.includes("{member}")) {
      let best: Origin | undefined;
      let bestLength = -1;
      for (const member of this.members.names) {
        const p = this.policy.prefix.replaceAll("{member}", member);
        if (prefixed.length > p.length && prefixed.startsWith(p) && p.length > bestLength) {
          best = { member, name: prefixed.slice(p.length) };
          bestLength = p.length;
        }
      }
      return best && this.exposed(kind, best.member, best.name) === exposed ? best : undefined;
    }
    let catalog = await this.current();
    const table = () => (kind === "tool" ? catalog.tools : catalog.prompts);
    const found = table().get(exposed);
    if (found || table().collided(exposed) || Date.now() - catalog.builtAt < CATALOG_FRESH_MS) return found;
    catalog = await this.refresh();
    return table().get(exposed);
  }

  /** The member that serves a resource URI (listed, or matching one of its templates). */
  async resourceOwner(uri: string): Promise<string | undefined> {
    let catalog = await this.current();
    const found = catalog.resourceOwner(uri);
    if (found || Date.now() - catalog.builtAt < CATALOG_FRESH_MS) return found?.member;
    catalog = await this.refresh();
    return catalog.resourceOwner(uri)?.member;
  }

  /** Whether two members list this resource URI (then neither serves it here). */
  withheldResource(uri: unknown): boolean {
    return typeof uri === "string" && this.catalog?.resources.collided(uri) === true;
  }

  /** Members with no healthy replica now. */
  down(): string[] {
    return this.members.names.filter((m) => !this.members.links.get(m)?.available());
  }

  close(): Promise<void> {
    return this.members.release();
  }
}
