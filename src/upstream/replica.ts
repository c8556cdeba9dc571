import { Client, Pool } from "undici";
import { publish } from "../observability/events.js";
import { createConnector } from "./connector.js";

export interface ReplicaOptions {
  /** Cap on connections; undefined = no cap (every open SSE stream holds one). */
  connections: number | undefined;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
}

/**
 * One upstream replica: its URL, a keep-alive connection pool, its in-flight count and its health.
 * `generation` increases each time the replica goes down, so sessions learned before that are known dead
 * even after the replica comes back.
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
  generation = 0;

  constructor(
    readonly route: string,
    url: string,
    options: ReplicaOptions,
  ) {
    this.url = new URL(url);
    this.id = this.url.href;
    this.path = `${this.url.pathname}${this.url.search}`;
    this.connector = createConnector(options.connectTimeoutMs);
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

  markDown(reason: string): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.generation++;
    publish("replica", { route: this.route, replica: this.id, healthy: false, reason });
  }

  markUp(): void {
    if (this.healthy) return;
    this.healthy = true;
    publish("replica", { route: this.route, replica: this.id, healthy: true, reason: "recovered" });
  }

  async close(): Promise<void> {
    await this.pool.destroy().catch(() => {});
  }
}
