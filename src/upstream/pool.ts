import type { UpstreamConfig } from "../config/schema.js";
import { haNodeOf } from "../ha/session-id.js";
import { injection } from "../security/header-policy.js";
import { replicaHash } from "../sessions/token.js";
import { type Balancer, createBalancer } from "./balancer.js";
import { Replica, type ReplicaOptions } from "./replica.js";

/** A route's replicas and the strategy that picks among them. */
export class UpstreamPool {
  readonly replicas: readonly Replica[];
  private readonly byId: Map<string, Replica>;
  private readonly byHash: Map<number, Replica>;
  private readonly balancer: Balancer;
  /** What the replicas speak. */
  readonly transport: UpstreamConfig["transport"];
  /** Tool name → the route whose replicas serve its modern `tools/call`. */
  readonly toolRoutes: ReadonlyMap<string, string>;
  /** The replicas share session state (`sessions: shared`): any healthy one may serve any session. */
  readonly sharedSessions: boolean;
  /** Set for a tenant's server (route `TENANT/NAME`): the tenant it belongs to. */
  readonly tenant: string | undefined;
  /** Headers sent upstream in place of the client's credential (a tenant server's own), as a flat list. */
  readonly inject: readonly string[];
  /** Their names. */
  readonly injectNames: ReadonlySet<string>;

  constructor(
    readonly name: string,
    config: UpstreamConfig,
    options: Omit<ReplicaOptions, "connections" | "guard"> & { guard?: ReplicaOptions["guard"] },
    tenant?: { id: string; headers: Record<string, string> },
  ) {
    const guard = config.guard ? options.guard : undefined;
    this.replicas = config.replicas.map(
      (url) => new Replica(name, url, { ...options, guard, connections: config.connections }),
    );
    this.byId = new Map(this.replicas.map((r) => [r.id, r]));
    this.byHash = new Map(this.replicas.map((r) => [replicaHash(r.id), r]));
    this.balancer = createBalancer(config.balancer);
    this.transport = config.transport;
    this.toolRoutes = new Map(Object.entries(config.toolRoutes));
    this.sharedSessions = config.sessions === "shared";
    this.tenant = tenant?.id;
    const inject = injection(tenant?.headers ?? {});
    this.inject = inject.headers;
    this.injectNames = inject.names;
  }

  get(id: string): Replica | undefined {
    return this.byId.get(id);
  }

  /** The replica a signed session id names. */
  byTokenHash(hash: number): Replica | undefined {
    return this.byHash.get(hash);
  }

  pick(exclude?: Replica): Replica | undefined {
    return this.balancer.pick(this.replicas, exclude);
  }

  /**
   * A shared session's replica (`sessions: shared`): the node its id names while that node is up; else
   * one chosen by the id (rendezvous hashing over the healthy replicas), the same on every gateway, so
   * the replica that adopts the session keeps receiving it.
   */
  forSharedSession(sessionId: string): Replica | undefined {
    const node = haNodeOf(sessionId);
    const named = node === undefined ? undefined : this.replicas.find((r) => r.haNode === node);
    if (named?.healthy) return named;
    let best: Replica | undefined;
    let bestScore = -1;
    for (const r of this.replicas) {
      if (!r.healthy) continue;
      const score = replicaHash(`${sessionId}\u0000${r.id}`);
      if (score > bestScore) [best, bestScore] = [r, score];
    }
    return best;
  }

  hasHealthy(): boolean {
    return this.replicas.some((r) => r.healthy);
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.close()));
  }
}
