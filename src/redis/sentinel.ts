import { EventEmitter } from "node:events";
import type { createClient } from "@redis/client";
import type { RedisNode } from "./topology.js";

type Client = ReturnType<typeof createClient>;

/** How a follower reaches the sentinels and the data nodes. */
export interface SentinelSetup {
  /** The name the sentinels monitor the primary under. */
  name: string;
  sentinels: RedisNode[];
  /** A client of one sentinel (credentials and TLS of the sentinels); it reconnects by itself. */
  sentinelClient(node: RedisNode): Client;
  /** A client of one data node that does not reconnect by itself (the follower decides where to go). */
  dataClient(node: RedisNode): Client;
}

const same = (a: RedisNode | undefined, b: RedisNode | undefined) => a?.host === b?.host && a?.port === b?.port;
/** How long one question to a sentinel, or one connection to a data node, may take. */
const STEP_MS = 1000;
/** The sentinels are asked this often even when nothing happened (a `+switch-master` may be missed). */
const POLL_MS = 5000;

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The sentinels of one setup, shared by every follower of it in this process: one connection per
 * sentinel for questions, one for `+switch-master`.
 */
class Sentinels {
  private readonly asking: Client[];
  private readonly listening: Client[];
  private readonly followers = new Set<() => void>();
  private preferred = 0;

  constructor(private readonly setup: SentinelSetup) {
    this.asking = setup.sentinels.map((n) => setup.sentinelClient(n));
    this.listening = setup.sentinels.map((n) => setup.sentinelClient(n));
    for (const c of [...this.asking, ...this.listening]) c.on("error", () => {});
    for (const c of this.asking) c.connect().catch(() => {});
    for (const c of this.listening) {
      c.connect()
        .then(() =>
          c.subscribe("+switch-master", (message) => {
            if (message.split(" ")[0] === setup.name) for (const f of this.followers) f();
          }),
        )
        .catch(() => {});
    }
  }

  /** The primary, as the first sentinel that answers names it (the last one that answered is asked first). */
  async primary(): Promise<RedisNode> {
    const n = this.asking.length;
    for (let i = 0; i < n; i++) {
      const index = (this.preferred + i) % n;
      const sentinel = this.asking[index] as Client;
      if (!sentinel.isReady) continue;
      try {
        const reply = (await within(
          sentinel.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.setup.name]),
          STEP_MS,
        )) as [string, string] | null;
        if (!reply) continue;
        this.preferred = index;
        return { host: reply[0], port: Number(reply[1]) };
      } catch {
        // The next sentinel.
      }
    }
    throw new Error(`no sentinel names a primary for ${this.setup.name}`);
  }

  add(follower: () => void): void {
    this.followers.add(follower);
  }

  /** Whether nobody follows any more (then closed). */
  remove(follower: () => void): boolean {
    this.followers.delete(follower);
    if (this.followers.size > 0) return false;
    for (const c of [...this.asking, ...this.listening]) c.destroy();
    return true;
  }
}

const shared = new Map<string, Sentinels>();

function sentinelsFor(key: string, setup: SentinelSetup): Sentinels {
  let s = shared.get(key);
  if (!s) {
    s = new Sentinels(setup);
    shared.set(key, s);
  }
  return s;
}

/**
 * A client of the primary that the sentinels name, following it through every failover.
 *
 * It never reconnects by itself to the address it lost: a primary killed and restarted at once comes
 * back empty and still calling itself primary until the sentinels demote it, and what it took meanwhile
 * would be thrown away. Instead, whenever its connection ends, a sentinel announces `+switch-master`, a
 * command meets `READONLY` (a demoted primary), or every 5 s, it asks the sentinels where the primary
 * is, connects there, checks `ROLE`, and only then serves (subscriptions made again, `ready` emitted).
 * Meanwhile commands fail at once (no offline queue): the caller answers 503.
 */
export class PrimaryFollower extends EventEmitter {
  private current: Client | undefined;
  private at: RedisNode | undefined;
  private closed = false;
  private started = false;
  private following: Promise<void> | undefined;
  private again = false;
  private readonly subscriptions: Array<[string, (message: string) => void]> = [];
  private readonly sentinels: Sentinels;
  private readonly follow = () => void this.refollow();
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly setup: SentinelSetup,
    key: string,
  ) {
    super();
    this.sentinels = sentinelsFor(key, setup);
  }

  get isOpen(): boolean {
    return this.started && !this.closed;
  }

  get isReady(): boolean {
    return this.current?.isReady ?? false;
  }

  /** The data client now (undefined while no primary is known). */
  get client(): Client | undefined {
    return this.current?.isReady ? this.current : undefined;
  }

  /** Resolves once a primary is connected; tries on until `close`. */
  async connect(): Promise<this> {
    if (!this.started) {
      this.started = true;
      this.sentinels.add(this.follow);
      this.poll = setInterval(this.follow, POLL_MS).unref();
    }
    await this.refollow();
    return this;
  }

  /** Ask the sentinels again (one question at a time; a request meanwhile asks once more after it). */
  refollow(): Promise<void> {
    if (this.closed || !this.started) return Promise.resolve();
    if (this.following) {
      this.again = true;
      return this.following;
    }
    this.following = (async () => {
      do {
        this.again = false;
        const ok = await this.step().then(
          () => true,
          () => false,
        );
        // No primary to serve from (the sentinels name none yet, or one that is not primary yet): again
        // shortly, until one is found.
        if (!ok && !this.current?.isReady && !this.closed) {
          await new Promise((r) => setTimeout(r, 250)); // keeps the process alive, as reconnecting does
          this.again = true;
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.following = undefined;
    });
    return this.following;
  }

  private async step(): Promise<void> {
    const node = await this.sentinels.primary();
    if (same(node, this.at) && this.current?.isReady) return;
    const next = this.setup.dataClient(node);
    next.on("error", () => {});
    try {
      await within(next.connect(), STEP_MS);
      const role = (await within(next.sendCommand(["ROLE"]), STEP_MS)) as unknown[];
      if (role[0] !== "master") throw new Error(`${node.host}:${node.port} is not a primary yet`);
      for (const [channel, listener] of this.subscriptions) await next.subscribe(channel, listener);
    } catch (err) {
      next.destroy();
      throw err;
    }
    if (this.closed) {
      next.destroy();
      return;
    }
    const old = this.current;
    this.current = next;
    this.at = node;
    // Its connection is lost ("error", then closed for good: it does not reconnect by itself).
    const lost = () => {
      if (this.current === next && !next.isReady) this.follow();
    };
    next.on("error", lost);
    next.on("end", lost);
    old?.destroy();
    this.emit("ready");
  }

  /** A command met a demoted primary: find the new one. */
  readOnly(): void {
    this.follow();
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    this.subscriptions.push([channel, listener]);
    if (this.current?.isReady) await this.current.subscribe(channel, listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    if (this.sentinels.remove(this.follow)) {
      for (const [key, s] of shared) if (s === this.sentinels) shared.delete(key);
    }
    this.current?.destroy();
    this.current = undefined;
  }

  destroy(): Promise<void> {
    return this.close();
  }
}
