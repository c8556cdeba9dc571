import type { RouteAuth } from "../auth/route-auth.js";
import type { UpstreamConfig } from "../config/schema.js";
import { haNodeOf } from "../ha/session-id.js";
import { publish, type ReplicaState } from "../observability/events.js";
import { injection } from "../security/header-policy.js";
import { replicaHash } from "../sessions/token.js";
import { type Balancer, createBalancer } from "./balancer.js";
import { DnsSource, type DnsSourceOptions } from "./dns-source.js";
import { Replica, type ReplicaOptions } from "./replica.js";
import { parseReplicaEntry } from "./replica-entry.js";

export type PoolOptions = Omit<ReplicaOptions, "connections" | "guard" | "servername"> & {
  guard?: ReplicaOptions["guard"];
  /** How DNS entries are resolved (`resolver.*`); without it, a DNS entry is refused. */
  resolver?: DnsSourceOptions;
  /** Whether active health checks run: a discovered replica then joins, checked, before it serves. */
  healthChecks?: boolean;
  /** Replicas of the route's previous pool (a reload): one this pool names again is taken over as it is. */
  inherit?: ReadonlyMap<string, Replica>;
  /** The route is an OAuth resource server: its settings. */
  auth?: RouteAuth | undefined;
};

/** Sessions naming an unknown replica ask for at most one resolution per this period. */
const REFRESH_GAP_MS = 250;

/** Gone replicas remembered (for one that comes back at the same address): at most this many per pool. */
const MAX_GONE = 10_000;

/**
 * A route's replicas and the strategy that picks among them. Membership comes from sources: the listed
 * URLs, and DNS entries that resolve to a set of addresses. Each replica has a state:
 * - `joining`: discovered, not yet passed a health check — no request goes there;
 * - `serving`: new sessions and stateless requests may go there;
 * - `draining`: it left the DNS answer — only its existing sessions reach it, while it answers;
 * - `gone`: it stopped answering while draining (or left before it served) — out of the pool; its
 *   sessions get 404, and one that comes back at the same address holds none of them.
 * Routing reads the current state; it never resolves anything itself (except `refresh()`, asked before
 * a 404 for a session whose replica this gateway has not resolved yet).
 */
export class UpstreamPool {
  private members: Replica[] = [];
  /** The serving replicas, where the balancer picks. */
  private routable: Replica[] = [];
  private readonly byId = new Map<string, Replica>();
  private readonly byHash = new Map<number, Replica>();
  private readonly balancer: Balancer;
  private readonly statics: ReadonlySet<string>;
  private readonly sources: DnsSource[] = [];
  private readonly goneAt = new Map<string, number>();
  private readonly replicaOptions: ReplicaOptions;
  private readonly healthChecks: boolean;
  private inherit: ReadonlyMap<string, Replica>;
  /** When the last resolution asked for by `refresh()` ended. */
  private refreshedAt = Number.NEGATIVE_INFINITY;
  /** What the replicas speak. */
  readonly transport: UpstreamConfig["transport"];
  /** Tool name → the route whose replicas serve its modern `tools/call`. */
  readonly toolRoutes: ReadonlyMap<string, string>;
  /** The replicas share session state (`sessions: shared`): any healthy one may serve any session. */
  readonly sharedSessions: boolean;
  /** Set for a tenant's server (route `TENANT/NAME`): the tenant it belongs to. */
  readonly tenant: string | undefined;
  /**
   * Headers sent upstream in place of the client's (a tenant server's own, with the client's gateway
   * credential dropped; an operator route's `headers`), and whether there are any to apply.
   */
  readonly injection: { headers: readonly string[]; names: ReadonlySet<string>; credentials: boolean };
  readonly injects: boolean;
  /** Set when the route needs a bearer token (`auth`). */
  readonly auth: RouteAuth | undefined;
  /** Told when a replica joins the pool (to health-check it) and when one is gone. */
  onJoin: ((replica: Replica) => void) | undefined;
  onGone: ((replica: Replica) => void) | undefined;

  constructor(
    readonly name: string,
    config: UpstreamConfig,
    options: PoolOptions,
    tenant?: { id: string; headers: Record<string, string> },
  ) {
    const guard = config.guard ? options.guard : undefined;
    this.replicaOptions = {
      connectTimeoutMs: options.connectTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs,
      guard,
      connections: config.connections,
    };
    this.healthChecks = options.healthChecks ?? false;
    this.inherit = options.inherit ?? new Map();
    const statics = new Set<string>();
    for (const raw of config.replicas) {
      const entry = parseReplicaEntry(raw);
      if ("error" in entry) throw new Error(`upstreams.${name}: replica ${raw} ${entry.error}`);
      if (entry.kind === "static") {
        const id = new URL(entry.url).href;
        const replica = this.inherit.get(id) ?? new Replica(name, entry.url, this.replicaOptions);
        replica.state = "serving";
        statics.add(replica.id);
        this.add(replica);
        continue;
      }
      if (!options.resolver) throw new Error(`upstreams.${name}: DNS entries are for operator routes only`);
      this.sources.push(new DnsSource(name, entry, options.resolver, () => this.reconcile()));
    }
    this.statics = statics;
    this.rebuild();
    this.balancer = createBalancer(config.balancer);
    this.transport = config.transport;
    this.toolRoutes = new Map(Object.entries(config.toolRoutes));
    this.sharedSessions = config.sessions === "shared";
    this.tenant = tenant?.id;
    this.auth = options.auth;
    // The client's gateway credential stops here on a tenant's server and on a protected route (no token
    // passthrough), unless the operator asked for passthrough.
    const stopCredentials = tenant !== undefined || (this.auth !== undefined && !this.auth.passthrough);
    const inject = injection(tenant?.headers ?? config.headers);
    this.injection = { ...inject, credentials: stopCredentials };
    this.injects = stopCredentials || inject.headers.length > 0;
  }

  /** Every replica that may hold sessions: serving, joining and draining. */
  get replicas(): readonly Replica[] {
    return this.members;
  }

  /** Another worker's answer for the DNS entry `name` (`workers/shared-replicas.ts`). */
  adoptAnswer(name: string, replicas: Array<[url: string, host: string]>): void {
    for (const source of this.sources) if (source.name === name) source.adopt(replicas);
  }

  /**
   * A replica that left the DNS answer before this worker started, still draining in the others
   * (`workers/shared-replicas.ts`): its sessions reach it here too, while it answers.
   */
  adoptDraining(id: string): void {
    if (this.byId.has(id) || this.sources.length === 0) return;
    this.join(id);
    const replica = this.byId.get(id);
    if (replica) this.setState(replica, "draining", "draining in another worker");
    this.rebuild();
  }

  /** Whether some of the replicas come from DNS. */
  get discovers(): boolean {
    return this.sources.length > 0;
  }

  /** The first resolution of every DNS entry (the pool starts with its replicas), then one per period. */
  async start(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.refresh()));
    this.inherit = new Map();
  }

  /** The replicas that `next` (the route's pool after a reload) did not take over. */
  leftBehind(next: UpstreamPool | undefined): Replica[] {
    const kept = new Set(next?.replicas ?? []);
    return this.members.filter((r) => !kept.has(r));
  }

  /** A pool replaced by a reload: no more resolutions (it must not move replicas its successor took over). */
  detach(): void {
    for (const s of this.sources) s.stop();
  }

  /** Then, once its streams had their grace: its replicas that no pool took over are closed. */
  async retire(next: UpstreamPool | undefined): Promise<void> {
    await Promise.all(this.leftBehind(next).map((r) => r.close()));
  }

  /**
   * Resolve every DNS entry now (before answering 404 for a session of a replica not seen yet); a
   * resolution that ended less than `REFRESH_GAP_MS` ago is recent enough.
   */
  async refresh(): Promise<void> {
    if (performance.now() - this.refreshedAt < REFRESH_GAP_MS) return;
    await Promise.all(this.sources.map((s) => s.refresh()));
    this.refreshedAt = performance.now();
  }

  get(id: string): Replica | undefined {
    return this.byId.get(id);
  }

  /** The replica a signed session id names. */
  byTokenHash(hash: number): Replica | undefined {
    return this.byHash.get(hash);
  }

  pick(exclude?: Replica): Replica | undefined {
    return this.balancer.pick(this.routable, exclude);
  }

  /**
   * A shared session's replica (`sessions: shared`): the node its id names while that node is up; else
   * one chosen by the id (rendezvous hashing over the healthy serving replicas), the same on every
   * gateway, so the replica that adopts the session keeps receiving it.
   */
  forSharedSession(sessionId: string): Replica | undefined {
    const node = haNodeOf(sessionId);
    const named = node === undefined ? undefined : this.members.find((r) => r.haNode === node);
    if (named?.healthy && named.state !== "joining") return named;
    let best: Replica | undefined;
    let bestScore = -1;
    for (const r of this.routable) {
      if (!r.healthy) continue;
      const score = replicaHash(`${sessionId}\u0000${r.id}`);
      if (score > bestScore) [best, bestScore] = [r, score];
    }
    return best;
  }

  hasHealthy(): boolean {
    return this.routable.some((r) => r.healthy);
  }

  async close(): Promise<void> {
    for (const s of this.sources) s.stop();
    await Promise.all(this.members.map((r) => r.close()));
  }

  /** The DNS answers changed: join what is new, drain what left, serve again what came back. */
  private reconcile(): void {
    const wanted = new Set<string>();
    for (const s of this.sources) for (const url of s.current) wanted.add(url);
    for (const id of wanted) {
      const known = this.byId.get(id);
      if (!known) this.join(id);
      else if (known.state === "draining") this.setState(known, "serving", "back in the DNS answer");
    }
    for (const r of [...this.members]) {
      if (wanted.has(r.id) || this.statics.has(r.id)) continue;
      if (r.state === "joining" || !r.healthy) this.remove(r, "left the DNS answer");
      else if (r.state === "serving") this.setState(r, "draining", "left the DNS answer");
    }
    this.rebuild();
  }

  private join(id: string): void {
    // The route's previous pool's replica (a reload): its health and sessions stay; one that was
    // draining is back in the answer.
    const inherited = this.inherit.get(id);
    if (inherited) {
      if (inherited.state === "draining" || inherited.state === "gone") inherited.state = "serving";
      this.add(inherited);
      return;
    }
    const servername = this.sources.map((s) => s.hostnameOf(id)).find((n) => n !== undefined);
    const replica = new Replica(this.name, id, {
      ...this.replicaOptions,
      ...(id.startsWith("https:") && servername !== undefined ? { servername } : {}),
    });
    // Sessions of a replica that was here before at this address died with it.
    replica.downAt = this.goneAt.get(id) ?? 0;
    replica.state = this.healthChecks ? "joining" : "serving";
    replica.healthy = !this.healthChecks;
    this.add(replica);
    publish("membership", { route: this.name, replica: id, state: replica.state, reason: "in the DNS answer" });
    this.onJoin?.(replica);
  }

  private add(replica: Replica): void {
    this.members.push(replica);
    this.byId.set(replica.id, replica);
    this.byHash.set(replicaHash(replica.id), replica);
    replica.onHealth = (r) => this.healthChanged(r);
  }

  /** A joining replica that passed its check serves; a draining one that stopped answering is gone. */
  private healthChanged(replica: Replica): void {
    if (replica.state === "joining" && replica.healthy) this.setState(replica, "serving", "passed its health check");
    else if (replica.state === "draining" && !replica.healthy) this.remove(replica, "stopped answering while draining");
    else return;
    this.rebuild();
  }

  private setState(replica: Replica, state: ReplicaState, reason: string): void {
    replica.state = state;
    publish("membership", { route: this.name, replica: replica.id, state, reason });
  }

  private remove(replica: Replica, reason: string): void {
    this.setState(replica, "gone", reason);
    replica.onHealth = undefined;
    this.members = this.members.filter((r) => r !== replica);
    this.byId.delete(replica.id);
    this.byHash.delete(replicaHash(replica.id));
    if (this.goneAt.size >= MAX_GONE) this.goneAt.delete(this.goneAt.keys().next().value as string);
    this.goneAt.set(replica.id, Date.now());
    this.onGone?.(replica);
    void replica.close();
  }

  private rebuild(): void {
    this.routable = this.members.filter((r) => r.state === "serving");
  }
}
