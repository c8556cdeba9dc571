import type { Config } from "../config/schema.js";
import type { Replica } from "./replica.js";

type HealthConfig = Config["health"];

/**
 * Active health checks (an HTTP request per interval; any status below 500 is healthy) with thresholds,
 * and the recovery of replicas that passive checks (a failed connection) marked down.
 */
export class HealthChecker {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Each watched replica's pending check. */
  private readonly scheduled = new Map<Replica, NodeJS.Timeout>();
  private readonly replicas: Set<Replica>;
  private started = false;
  private readonly failures = new Map<Replica, number>();
  private readonly passes = new Map<Replica, number>();
  private stopped = false;
  /**
   * Whether this process runs the active checks. Under `--workers` one worker leads (the primary says
   * which) and tells the others what it sees; a gateway of one process always leads.
   */
  private leading = true;
  /** Set when gateway replicas share health: called when this gateway sees a replica go down. */
  announce: ((replica: Replica) => void) | undefined;

  constructor(
    replicas: readonly Replica[],
    private config: HealthConfig,
  ) {
    this.replicas = new Set(replicas);
  }

  start(): void {
    if (!this.config.enabled) return;
    this.started = true;
    if (this.leading) this.scheduleAll();
  }

  private scheduleAll(): void {
    // A replica still joining (found by the first DNS resolution) is checked at once.
    for (const replica of this.replicas) this.schedule(replica, replica.state === "joining" ? 0 : this.config.interval);
  }

  /** Lead the active checks, or leave them to another worker (`--workers`). */
  lead(on: boolean): void {
    if (on === this.leading) return;
    this.leading = on;
    if (on && this.started) this.scheduleAll();
    if (!on) {
      for (const t of this.scheduled.values()) {
        clearTimeout(t);
        this.timers.delete(t);
      }
      this.scheduled.clear();
    }
  }

  /** A reload's health options: the next checks follow them (turning checks on or off needs a restart). */
  reconfigure(config: HealthConfig): void {
    this.config = { ...config, enabled: this.config.enabled };
  }

  /** A replica that joined its pool: checked at once (it serves only once it passed). */
  add(replica: Replica): void {
    if (this.replicas.has(replica)) return;
    this.replicas.add(replica);
    if (this.started && this.leading) this.schedule(replica, 0);
  }

  /** A joining replica that a session already names (another gateway saw it first): checked now. */
  async checkNow(replica: Replica): Promise<void> {
    if (await this.probe(replica)) replica.markUp();
  }

  /** A replica gone from its pool: no more checks. */
  remove(replica: Replica): void {
    this.replicas.delete(replica);
    const t = this.scheduled.get(replica);
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
    this.scheduled.delete(replica);
    this.failures.delete(replica);
    this.passes.delete(replica);
  }

  /** Called when a request failed to connect: the replica is down at once. */
  passiveFailure(replica: Replica, reason: string): void {
    const wasHealthy = replica.healthy;
    replica.markDown(reason);
    if (wasHealthy) this.announce?.(replica);
    this.down(replica, wasHealthy);
  }

  /**
   * Another gateway saw the replica go down at `at`. A live report marks it down here too; one read back
   * from the record (at start, after a reconnection) only dates the fall: this gateway's own checks say
   * whether the replica is up now.
   */
  peerDown(replica: Replica, at: number, live: boolean): void {
    if (!live) {
      replica.downAt = Math.max(replica.downAt, at);
      return;
    }
    const wasHealthy = replica.healthy;
    replica.markDown("another gateway saw it down", at);
    this.down(replica, wasHealthy);
  }

  /**
   * A replica just went down: count passes from zero; when no active check watches it (checks off, or a
   * tenant's server), retry after the cooldown.
   */
  private down(replica: Replica, wasHealthy: boolean): void {
    this.passes.set(replica, 0);
    if (wasHealthy && (!this.config.enabled || !this.replicas.has(replica)) && !this.stopped) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        replica.markUp();
      }, this.config.cooldown);
      t.unref();
      this.timers.add(t);
    }
  }

  private schedule(replica: Replica, delay: number): void {
    if (this.stopped) return;
    const t = setTimeout(async () => {
      this.timers.delete(t);
      const ok = await this.probe(replica);
      if (!this.replicas.has(replica) || !this.leading) return;
      this.record(replica, ok);
      this.schedule(replica, this.config.interval);
    }, delay);
    t.unref();
    this.timers.add(t);
    this.scheduled.set(replica, t);
  }

  private record(replica: Replica, ok: boolean): void {
    if (ok) {
      this.failures.set(replica, 0);
      const passes = (this.passes.get(replica) ?? 0) + 1;
      this.passes.set(replica, passes);
      if (!replica.healthy && passes >= this.config.healthyThreshold) replica.markUp();
    } else {
      this.passes.set(replica, 0);
      const failures = (this.failures.get(replica) ?? 0) + 1;
      this.failures.set(replica, failures);
      if (replica.healthy && failures >= this.config.unhealthyThreshold) {
        replica.markDown("health check failed");
        this.announce?.(replica);
      }
    }
  }

  async probe(replica: Replica): Promise<boolean> {
    const path = this.config.path ?? replica.path;
    try {
      const res = await replica.pool.request({
        path,
        method: "GET",
        headers: { accept: "application/json, text/event-stream", "user-agent": "switchyard-health" },
        headersTimeout: this.config.timeout,
        bodyTimeout: this.config.timeout,
        signal: AbortSignal.timeout(this.config.timeout),
      });
      replica.learnNode(res.headers);
      // An SSE answer may never end: the status is all a probe needs.
      if (String(res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
        res.body.on("error", () => {});
        res.body.destroy();
      } else {
        await res.body.dump();
      }
      return res.statusCode < 500;
    } catch {
      return false;
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.scheduled.clear();
  }
}
