import { Client, Pool } from "undici";
import { NODE_HEADER } from "../ha/session-id.js";
import { publish, type ReplicaState } from "../observability/events.js";
import { type AddressGuard, createConnector } from "./connector.js";

export interface ReplicaOptions {
  /** Cap on connections; undefined = no cap (every open SSE stream holds one). */
  connections: number | undefined;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  /** SSRF guard for replicas whose address is not the operator's to vouch for. */
  guard?: AddressGuard | undefined;
  /** The name a TLS certificate must carry, when the URL names an address (a DNS-discovered replica). */
  servername?: string | undefined;
}

/**
 * One upstream replica: its URL, a keep-alive connection pool, its in-flight count and its health.
 * `downAt` is when the replica was last seen going down: a session created before it died with the
 * replica, even if the replica is back (a restarted server lost its sessions). A time, unlike a counter,
 * means the same on every gateway replica, so it can be shared.
 */
export class Replica {
  readonly id: string;
  readonly url: URL;
  /** Path and query of the MCP endpoint on the replica. */
  readonly path: string;
  readonly pool: Pool;
  private readonly connector: ReturnType<typeof createConnector>;
  private readonly headersTimeoutMs: number;
  inFlight = 0;
  healthy = true;
  /** Epoch ms of the last time this replica went down; 0 if never. */
  downAt = 0;
  /** The `switchyard/ha` node this replica answers as (learned from its answers), if it is one. */
  haNode: string | undefined;
  /** In its pool: a listed replica serves from the start; a discovered one joins first (`upstream/pool.ts`). */
  state: ReplicaState = "serving";
  /** Told when the replica goes up or down (its pool moves it between states). */
  onHealth: ((replica: Replica) => void) | undefined;

  constructor(
    readonly route: string,
    url: string,
    options: ReplicaOptions,
  ) {
    this.url = new URL(url);
    this.id = this.url.href;
    this.path = `${this.url.pathname}${this.url.search}`;
    this.connector = createConnector(options.connectTimeoutMs, options.guard, options.servername);
    this.headersTimeoutMs = options.headersTimeoutMs;
    this.pool = new Pool(this.url.origin, {
      connections: options.connections ?? null,
      pipelining: 1,
      connect: this.connector,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: 0,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
    });
    // A pool error with no request attached must never crash the process.
    this.pool.on("connectionError", () => {});
  }

  /**
   * A connection of its own for an open-ended stream (a GET), to be destroyed when the stream ends.
   * Aborting a pooled request whose response streams makes undici reconnect for nothing
   * (nodejs/undici#5845); destroying a dedicated client does not.
   */
  streamClient(): Client {
    const client = new Client(this.url.origin, {
      pipelining: 1,
      connect: this.connector,
      headersTimeout: this.headersTimeoutMs,
      bodyTimeout: 0,
    });
    client.on("connectionError", () => {});
    return client;
  }

  markDown(reason: string, at = Date.now()): void {
    this.downAt = Math.max(this.downAt, at);
    if (!this.healthy) return;
    this.healthy = false;
    publish("replica", { route: this.route, replica: this.id, healthy: false, reason });
    this.onHealth?.(this);
  }

  /** The `switchyard/ha` node an answer names (the header policy keeps it from clients). */
  learnNode(headers: Record<string, string | string[] | undefined>): void {
    const node = headers[NODE_HEADER];
    if (typeof node === "string") this.haNode = node;
  }

  /** Whether a session created at `createdAt` can still live on this replica. */
  holds(createdAt: number): boolean {
    return this.healthy && createdAt > this.downAt;
  }

  markUp(): void {
    if (this.healthy) return;
    this.healthy = true;
    publish("replica", { route: this.route, replica: this.id, healthy: true, reason: "recovered" });
    this.onHealth?.(this);
  }

  async close(): Promise<void> {
    await this.pool.destroy().catch(() => {});
  }
}
