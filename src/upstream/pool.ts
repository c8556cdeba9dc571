import type { UpstreamConfig } from "../config/schema.js";
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

  constructor(
    readonly name: string,
    config: UpstreamConfig,
    options: Omit<ReplicaOptions, "connections" | "guard"> & { guard?: ReplicaOptions["guard"] },
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

  hasHealthy(): boolean {
    return this.replicas.some((r) => r.healthy);
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.close()));
  }
}
