import type { ServerResponse } from "node:http";
import { SwitchyardError } from "../errors.js";
import type { Reply } from "../federation/reply.js";
import { publish } from "../observability/events.js";
import { SseRelay } from "../sse/relay.js";
import type { Message, StdioChild } from "./stdio-child.js";

/** Messages held for a session's GET stream while none is open; past it the oldest are dropped. */
const MAX_QUEUED = 256;

interface Pending {
  reply: Reply;
  /** The client accepts an SSE answer: what the process says before answering can reach it. */
  sse: boolean;
  progressToken: unknown;
}

/**
 * A legacy session (Streamable HTTP, 2025-03-26 … 2025-11-25) and the one process that serves it. The
 * client's requests go to the process's stdin as they are (one client per process: ids need no
 * rewriting); each line of its stdout goes where it belongs — an answer to the POST that asked,
 * progress to the POST whose `progressToken` it names, anything else (logs, the server's own
 * requests, `list_changed`) on the stream of the request in flight, else the session's GET stream, else
 * held for it (bounded).
 */
export class HostSession {
  lastActive = Date.now();
  private readonly pending = new Map<string, Pending>();
  private stream: { res: ServerResponse; relay: SseRelay } | undefined;
  private queued: Message[] = [];
  private over = false;

  constructor(
    readonly id: string,
    readonly child: StdioChild,
    private readonly heartbeatMs: number,
    private readonly onEnd: (s: HostSession) => void,
  ) {
    child.onMessage = (m) => this.fromChild(m);
    child.onGarbage = (why) => publish("fault", { where: "host", code: "SWY_HOST_GARBAGE", message: why });
    child.onExit = () => this.ended();
  }

  get open(): boolean {
    return !this.over;
  }

  /** Nothing in flight and no stream open: idle expiry may end it. */
  get idle(): boolean {
    return this.pending.size === 0 && this.stream === undefined;
  }

  /** A client's request: to the process; its answer (and what comes before it) through `reply`. */
  request(message: Message, reply: Reply, sse: boolean): void {
    this.lastActive = Date.now();
    const key = JSON.stringify(message.id);
    // One process answers by id: a second request under an id in flight could only get the other's answer.
    if (this.pending.has(key))
      throw new SwitchyardError("SWY_INVALID_REQUEST", { detail: "a request with this id is in flight" });
    const meta = message.params?._meta as Record<string, unknown> | undefined;
    this.pending.set(key, { reply, sse, progressToken: meta?.progressToken });
    // As the SDK's own HTTP transport answers: on a stream when the client reads one (what the
    // process says before its answer then needs no switch of media type) — but for `initialize`, whose
    // refusal (a process that does not start in time) must still be able to say so with its status.
    if (sse && message.method !== "initialize") reply.stream();
    this.child.send(message);
  }

  /** The client left before its answer: forgotten here (the process is told by the client's own cancellation). */
  abandon(id: unknown, reply: Reply): void {
    const key = JSON.stringify(id);
    if (this.pending.get(key)?.reply === reply) this.pending.delete(key);
  }

  /** A client's notification or answer (to the process's own request): to the process. */
  deliver(message: Message): void {
    this.lastActive = Date.now();
    this.child.send(message);
  }

  /** The session's GET stream (one at a time): what no request claims goes there, held messages first. */
  attach(res: ServerResponse): boolean {
    if (this.stream !== undefined) return false;
    this.lastActive = Date.now();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
    res.flushHeaders();
    const relay = new SseRelay(res, this.heartbeatMs);
    const stream = { res, relay };
    this.stream = stream;
    res.once("close", () => {
      relay.stop();
      if (this.stream === stream) this.stream = undefined;
      this.lastActive = Date.now();
    });
    const held = this.queued;
    this.queued = [];
    for (const m of held) this.toStream(m);
    return true;
  }

  /** End the session and its process (DELETE, idle expiry, `host` stopping). */
  async end(): Promise<void> {
    await this.child.end();
    this.ended();
  }

  private fromChild(m: Message): void {
    if (m.method === undefined && m.id !== undefined && ("result" in m || "error" in m)) {
      const key = JSON.stringify(m.id);
      const p = this.pending.get(key);
      if (!p) return;
      this.pending.delete(key);
      this.child.ready();
      p.reply.answer(m);
      return;
    }
    if (m.method === "notifications/progress") {
      const token = m.params?.progressToken;
      for (const p of this.pending.values()) {
        if (p.progressToken !== undefined && p.progressToken === token) {
          p.reply.message(undefined, m);
          return;
        }
      }
    }
    // Unclaimed: the latest request whose client reads a stream, else the GET stream, else held.
    let latest: Pending | undefined;
    for (const p of this.pending.values()) if (p.sse) latest = p;
    if (latest) latest.reply.message(undefined, m);
    else this.toStream(m);
  }

  private toStream(m: Message): void {
    const s = this.stream;
    if (s && !s.res.destroyed) {
      s.relay.write(Buffer.from(`event: message\ndata: ${JSON.stringify(m)}\n\n`));
      return;
    }
    if (this.queued.length >= MAX_QUEUED) this.queued.shift();
    this.queued.push(m);
  }

  /** The process is gone: every request in flight gets a JSON-RPC error, the stream ends, the session with it. */
  private ended(): void {
    if (this.over) return;
    this.over = true;
    for (const p of this.pending.values()) p.reply.error(new SwitchyardError("SWY_HOST_PROCESS_ENDED"));
    this.pending.clear();
    this.stream?.res.end();
    this.onEnd(this);
  }
}
