import type { RedisClient } from "../redis/client.js";

/** A request a node had in flight: where its answer goes, and the request itself when it may be rerun. */
export interface InFlight {
  requestId: string | number;
  streamId: string;
  request?: unknown;
}

/** What every node knows of a session. */
export interface SessionEntry {
  /** The node serving it; "" once its owner handed it over (graceful drain). */
  owner: string;
  /** The client's `initialize` request (client info, capabilities, protocol version), as JSON. */
  init: string;
  createdAt: number;
}

/**
 * Take a session over from the owner the caller saw (`ARGV[1]`) — the caller found that owner gone —
 * unless another node did first. Returns the owner afterwards: the caller when it won, else whoever did.
 */
const CLAIM = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return false end
if owner ~= ARGV[1] then return owner end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
return ARGV[2]`;

/**
 * The session registry in Redis (seed 002, "session partitioning"): session → owner node and the stored
 * `initialize` request; nodes → their URL, kept alive by a heartbeat with a TTL. Keys:
 * `<prefix>s:<session>` (hash, expiring when idle) and `<prefix>n:<node>` (the node's URL, expiring
 * unless renewed).
 */
export class SessionRegistry {
  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    private readonly sessionTtlMs: number,
  ) {}

  private sessionKey(id: string): string {
    return `${this.prefix}s:${id}`;
  }

  private nodeKey(node: string): string {
    return `${this.prefix}n:${node}`;
  }

  async register(id: string, owner: string, init: unknown): Promise<void> {
    const key = this.sessionKey(id);
    await this.client
      .multi()
      .hSet(key, { owner, init: JSON.stringify(init), createdAt: String(Date.now()) })
      .pExpire(key, this.sessionTtlMs)
      .exec();
  }

  /**
   * After Redis lost its data (a restart without persistence): put back a session this node serves,
   * unless it is known already (another node may have adopted it meanwhile).
   */
  async restore(id: string, owner: string, init: unknown, createdAt: number): Promise<void> {
    const key = this.sessionKey(id);
    await this.client
      .multi()
      .hSetNX(key, "owner", owner)
      .hSetNX(key, "init", JSON.stringify(init))
      .hSetNX(key, "createdAt", String(createdAt))
      .pExpire(key, this.sessionTtlMs)
      .exec();
  }

  /** The session (renewing its idle TTL), or undefined. */
  async lookup(id: string): Promise<SessionEntry | undefined> {
    const key = this.sessionKey(id);
    const [entry] = (await this.client.multi().hGetAll(key).pExpire(key, this.sessionTtlMs).exec()) as unknown as [
      Record<string, string>,
    ];
    if (!entry || entry.owner === undefined || entry.init === undefined) return undefined;
    return { owner: entry.owner, init: entry.init, createdAt: Number(entry.createdAt ?? 0) };
  }

  /** Renew a session's idle TTL (a node serving it locally). */
  async touch(id: string): Promise<void> {
    await this.client.pExpire(this.sessionKey(id), this.sessionTtlMs);
  }

  /**
   * Take a session over: only from the owner the caller saw, and only if that owner is gone (its
   * heartbeat expired, or it handed the session over) or `force` says so (its port refused the
   * connection). The owner after the attempt, or undefined when the session is unknown.
   *
   * The heartbeat is read apart from the claim (in a Cluster the node's key and the session's live on
   * different nodes; no script may touch both). An owner whose heartbeat expired between the two is dead
   * for the claim as it would be a moment later: expiry is the decision, whenever it is read.
   */
  async claim(id: string, seenOwner: string, me: string, force: boolean): Promise<string | undefined> {
    if (seenOwner !== "" && !force && (await this.client.exists(this.nodeKey(seenOwner))) === 1) return seenOwner;
    const result = await this.client.eval(CLAIM, { keys: [this.sessionKey(id)], arguments: [seenOwner, me] });
    return typeof result === "string" ? result : undefined;
  }

  /** Hand a session over (graceful drain): the next request on any node adopts it. */
  async release(id: string, me: string): Promise<void> {
    await this.claim(id, me, "", true);
  }

  async forget(id: string): Promise<void> {
    await this.client.del(this.sessionKey(id));
  }

  /** The node is alive at `url` for `ttlMs` more. */
  async heartbeat(node: string, url: string, ttlMs: number): Promise<void> {
    await this.client.set(this.nodeKey(node), url, { expiration: { type: "PX", value: ttlMs } });
  }

  /** Where a live node listens, or undefined when its heartbeat has expired. */
  async nodeUrl(node: string): Promise<string | undefined> {
    return (await this.client.get(this.nodeKey(node))) ?? undefined;
  }

  async leave(node: string): Promise<void> {
    await this.client.del(this.nodeKey(node));
  }

  // In-flight requests: what a dead node was doing, so that its adopter can say so.

  private inflightKey(id: string): string {
    return `${this.prefix}if:${id}`;
  }

  /** `request`: kept when it may be run again by an adopter (an idempotent tool, opted in). */
  async requestStarted(id: string, requestId: string | number, streamId: string, request?: unknown): Promise<void> {
    const key = this.inflightKey(id);
    await this.client
      .multi()
      .hSet(key, JSON.stringify(requestId), JSON.stringify({ streamId, request }))
      .pExpire(key, this.sessionTtlMs)
      .exec();
  }

  async requestEnded(id: string, requestId: string | number): Promise<void> {
    await this.client.hDel(this.inflightKey(id), JSON.stringify(requestId));
  }

  /** The requests a session had in flight (request id → the SDK stream it answers on), emptied. */
  async takeInFlight(id: string): Promise<InFlight[]> {
    const key = this.inflightKey(id);
    const [all] = (await this.client.multi().hGetAll(key).del(key).exec()) as unknown as [Record<string, string>];
    return Object.entries(all ?? {}).map(([k, v]) => {
      const { streamId, request } = JSON.parse(v) as { streamId: string; request?: unknown };
      return { requestId: JSON.parse(k) as string | number, streamId, request };
    });
  }
}
