import { SwitchyardError } from "../errors.js";
import type { Reply } from "../federation/reply.js";
import { publish } from "../observability/events.js";
import { META } from "../protocol/jsonrpc.js";
import { SUPPORTED_MODERN_VERSIONS } from "../protocol/modern-request.js";
import { FIRST_MODERN_VERSION, LATEST_LEGACY_VERSION } from "../protocol/versions.js";
import type { Processes } from "./processes.js";
import type { Message, StdioChild } from "./stdio-child.js";

/** How long a cancelled request's process is given to answer anyway before it is replaced. */
const CANCEL_GRACE_MS = 2000;
/** A pool process that could not be started (at `--max-processes`, or crashing) is tried again after this. */
const RETRY_MS = 1000;
const HELLO = { name: "switchyard-host", version: "1" };

/** What a program of the legacy era says of itself in its `initialize` answer. */
type Described = { capabilities?: unknown; serverInfo?: unknown; instructions?: unknown };

interface Job {
  hostId: string;
  message: Message;
  reply: Reply;
  timer: NodeJS.Timeout | undefined;
}

interface Warm {
  child: StdioChild;
  ready: boolean;
  job: Job | undefined;
  /** A request of `host`'s own (the era probe, `initialize`): its answer goes here. */
  own: ((m: Message) => void) | undefined;
}

/** Messages `host` relays to `subscriptions/listen` streams: what a pooled process says changed. */
export type ListChanged = (m: Message) => void;

/**
 * The modern era's requests (2026-07-28, stateless): a pool of warm processes, each serving one request
 * at a time under an id of `host`'s (the client's id restored on the answer). A program of the legacy
 * era is initialized once per process by `host` and sent each request without the modern envelope; one
 * that speaks 2026-07-28 gets the request as it came. A process that exits, writes what is not JSON-RPC,
 * or does not answer within `requestTimeoutMs` is replaced.
 */
export class ModernPool {
  private readonly warm: Warm[] = [];
  private readonly waiting: Array<{ take: (w: Warm) => void; timer: NodeJS.Timeout }> = [];
  private era: "modern" | "legacy" | undefined;
  private described: Described = {};
  private nextId = 0;
  private closed = false;
  readonly listeners = new Set<ListChanged>();

  constructor(
    private readonly processes: Processes,
    private readonly size: number,
    private readonly options: { startTimeoutMs: number; requestTimeoutMs: number; maxWaitMs: number },
  ) {}

  start(): void {
    for (let i = 0; i < this.size; i++) this.add();
  }

  /** At least one process is ready to serve (or the pool is empty by configuration). */
  get ready(): boolean {
    return this.size === 0 || this.warm.some((w) => w.ready);
  }

  /** Processes ready to serve, of the pool's size (`/readyz` says it: a pool still warming up). */
  get warmth(): { ready: number; size: number } {
    return { ready: this.warm.filter((w) => w.ready).length, size: this.size };
  }

  /** What `server/discover` answers for a program of the legacy era (from its `initialize` answer). */
  discover(): Record<string, unknown> | undefined {
    if (this.era !== "legacy") return undefined;
    const { serverInfo, protocolVersion: _, ...rest } = this.described as Described & { protocolVersion?: unknown };
    return {
      supportedVersions: [...SUPPORTED_MODERN_VERSIONS],
      ...rest,
      ttlMs: 0,
      cacheScope: "private",
      _meta: { "io.modelcontextprotocol/serverInfo": serverInfo },
    };
  }

  /** A client's request: served by the next free process (503 if none frees up within `maxWaitMs`). */
  async request(message: Message, reply: Reply, leaving: Promise<void>): Promise<void> {
    const w = await this.acquire();
    const hostId = `swy-${++this.nextId}`;
    const job: Job = { hostId, message, reply, timer: undefined };
    w.job = job;
    job.timer = setTimeout(() => {
      if (w.job !== job) return;
      reply.error(new SwitchyardError("SWY_HOST_REQUEST_TIMEOUT"));
      this.replace(w, "no answer in time");
    }, this.options.requestTimeoutMs);
    w.child.send({ ...this.inEra(message), id: hostId });
    void leaving.then(() => {
      if (w.job !== job) return;
      // The client left (its way to cancel): the process is told, and replaced if it answers no more.
      w.child.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: hostId } });
      clearTimeout(job.timer);
      job.timer = setTimeout(() => {
        if (w.job === job) this.replace(w, "no answer after a cancellation");
      }, CANCEL_GRACE_MS);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) clearTimeout(waiter.timer);
    await Promise.all(this.warm.map((w) => w.child.end()));
  }

  /** A modern request as a legacy program reads it: the envelope's keys taken out of `_meta`. */
  private inEra(message: Message): Message {
    if (this.era !== "legacy" || message.params === undefined) return message;
    const { _meta, ...params } = message.params;
    const meta = { ...((_meta as Record<string, unknown> | undefined) ?? {}) };
    delete meta[META.protocolVersion];
    delete meta[META.clientInfo];
    delete meta[META.clientCapabilities];
    return { ...message, params: Object.keys(meta).length > 0 ? { ...params, _meta: meta } : params };
  }

  private acquire(): Promise<Warm> {
    const free = this.warm.find((w) => w.ready && w.job === undefined);
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const waiter = {
        take: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(new SwitchyardError("SWY_HOST_BUSY", { headers: { "retry-after": "1" } }));
        }, this.options.maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }

  /** A process is free: the first waiting request gets it. */
  private release(w: Warm): void {
    w.job = undefined;
    const waiter = this.waiting.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.take(w);
    }
  }

  private add(): void {
    if (this.closed) return;
    const child = this.processes.take("pool");
    if (child === undefined) {
      setTimeout(() => this.add(), RETRY_MS).unref();
      return;
    }
    const w: Warm = { child, ready: false, job: undefined, own: undefined };
    this.warm.push(w);
    child.onMessage = (m) => this.fromChild(w, m);
    child.onGarbage = (why) => this.replace(w, why);
    child.onExit = () => this.lost(w);
    this.prepare(w).catch((err: unknown) => this.replace(w, (err as Error).message));
  }

  /** Learn the program's era (once), and initialize a legacy program's process. */
  private async prepare(w: Warm): Promise<void> {
    if (this.era !== "legacy") {
      const discovered = await this.ask(w, "server/discover", {
        _meta: {
          [META.protocolVersion]: FIRST_MODERN_VERSION,
          [META.clientInfo]: HELLO,
          [META.clientCapabilities]: {},
        },
      });
      const versions = (discovered.result as { supportedVersions?: unknown } | undefined)?.supportedVersions;
      this.era = Array.isArray(versions) && versions.includes(FIRST_MODERN_VERSION) ? "modern" : "legacy";
    }
    if (this.era === "legacy") {
      const init = await this.ask(w, "initialize", {
        protocolVersion: LATEST_LEGACY_VERSION,
        capabilities: {},
        clientInfo: HELLO,
      });
      if (init.error !== undefined) throw new Error("initialize refused");
      this.described = (init.result as Described | undefined) ?? {};
      w.child.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    }
    w.child.ready();
    w.ready = true;
    this.release(w);
  }

  private ask(w: Warm, method: string, params: Record<string, unknown>): Promise<Message> {
    const id = `swy-${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} in time`)), this.options.startTimeoutMs);
      w.own = (m) => {
        if (m.id !== id) return;
        clearTimeout(timer);
        w.own = undefined;
        resolve(m);
      };
      w.child.send({ jsonrpc: "2.0", id, method, params });
    });
  }

  private fromChild(w: Warm, m: Message): void {
    const isAnswer = m.method === undefined && ("result" in m || "error" in m);
    if (isAnswer && w.own) {
      w.own(m);
      return;
    }
    const job = w.job;
    if (isAnswer) {
      if (!job || m.id !== job.hostId) return;
      clearTimeout(job.timer);
      job.reply.answer(this.answered(job.message, m));
      this.release(w);
      return;
    }
    if (m.method !== undefined && m.id !== undefined) {
      // The program asks its client (sampling, elicitation, roots): no client can be asked here.
      w.child.send({
        jsonrpc: "2.0",
        id: m.id,
        error: { code: -32601, message: "switchyard host: requests to the client are not relayed in the modern era" },
      });
      return;
    }
    if (typeof m.method === "string" && m.method.endsWith("/list_changed")) {
      for (const listener of this.listeners) listener(m);
      return;
    }
    job?.reply.message(undefined, m);
  }

  /** The answer under the client's id; a legacy program's list is marked not to be kept by caches. */
  private answered(request: Message, m: Message): Message {
    const out: Message = { ...m, id: request.id };
    const result = out.result as Record<string, unknown> | undefined;
    if (this.era === "legacy" && result && /\/list$/.test(request.method ?? "") && result.ttlMs === undefined) {
      out.result = { ...result, ttlMs: 0, cacheScope: "private" };
    }
    return out;
  }

  /** A process that misbehaved: ended, and another started in its place. */
  private replace(w: Warm, why: string): void {
    publish("fault", { where: "host pool", code: "SWY_HOST_REPLACED", message: why });
    void w.child.end();
    this.lost(w);
  }

  /** A process left the pool (exited or replaced): its request gets an error, another process starts. */
  private lost(w: Warm): void {
    const i = this.warm.indexOf(w);
    if (i < 0) return;
    this.warm.splice(i, 1);
    const job = w.job;
    w.job = undefined;
    if (job) {
      clearTimeout(job.timer);
      job.reply.error(new SwitchyardError("SWY_HOST_PROCESS_ENDED"));
    }
    if (this.closed) return;
    // One that never became ready (a program that does not start) is tried again later, not in a loop.
    if (w.ready) this.add();
    else setTimeout(() => this.add(), RETRY_MS).unref();
  }
}
