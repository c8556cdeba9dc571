import type { ExchangeConfig } from "../auth/route-auth.js";
import { endAttempt, type RequestTrace } from "../observability/request-trace.js";
import { H, isEventStream } from "../protocol/headers.js";
import { META } from "../protocol/jsonrpc.js";
import { encodeHeaderValue, NAMED, paramHeaders } from "../protocol/routing-headers.js";
import { FIRST_MODERN_VERSION } from "../protocol/versions.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { Replica } from "../upstream/replica.js";
import { type Cancel, MemberExchange, type Received } from "./member-exchange.js";

/** A JSON-RPC message as the virtual server reads and writes it. */
export type Message = Record<string, unknown> & { id?: unknown; method?: string; params?: Record<string, unknown> };

/** What a client said of itself: sent on to the members in `initialize` (legacy) or `_meta` (modern). */
export interface Hello {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: { name: string; version: string } & Record<string, unknown>;
}

let nextId = 0;
/** An id for the gateway's own requests to a member (never an id a client chose: those pass through as they are). */
export function gatewayId(): string {
  nextId = (nextId + 1) % Number.MAX_SAFE_INTEGER;
  return `swy-${process.pid}-${nextId}`;
}

/** Why a member could not answer: unreachable (or failing), or its session is gone (404: open another). */
export class MemberError extends Error {
  constructor(
    readonly member: string,
    /** `ended`: a stream closed without the answer (a member's subscription ends that way). */
    readonly kind: "unavailable" | "session-gone" | "ended",
    detail: string,
    /** The HTTP status of a member's answer that was no JSON-RPC answer. */
    readonly status?: number,
  ) {
    super(`member ${member}: ${detail}`);
    this.name = "MemberError";
  }
}

export interface Posted {
  status: number;
  /** The member's session id, when its answer names one (a legacy `initialize`). */
  sessionId: string | undefined;
  /** The answer to the request (undefined for a notification or response: 202). */
  answer: Message | undefined;
  /** A JSON answer's body as it came (what goes on unchanged when nothing in it needs rewriting). */
  text: string | undefined;
}

/**
 * One member route seen from a virtual server: JSON-RPC messages POSTed to one of its replicas, in the
 * member's era (the legacy one with its session's headers, the modern one with the envelope and routing
 * headers), and the answer read message by message — those before it (progress, logs, the member's own
 * requests) handed to `onMessage` as they arrive.
 */
export class MemberLink {
  private base: readonly string[] | undefined;
  constructor(
    readonly member: string,
    private readonly pool: UpstreamPool,
    readonly headersTimeoutMs: number,
  ) {}

  /** What the member's replicas speak (an HTTP+SSE member holds its sessions on a stream: `sse-member.ts`). */
  get transport(): "streamable-http" | "sse" {
    return this.pool.transport;
  }

  /** Headers of the route's own (`upstreams.NAME.headers`: the gateway's credential for the member). */
  ownHeaders(): readonly string[] {
    return this.pool.injects ? this.pool.injection.headers : [];
  }

  /** The member's own credential by token exchange (its route's `upstreamAuth: { exchange }`), if any. */
  get exchange(): ExchangeConfig | undefined {
    return this.pool.auth?.exchange;
  }

  /** A replica for a request that belongs to no session (or a new one); undefined if none is healthy. */
  pick(): Replica | undefined {
    return this.pool.pick();
  }

  /** The host strings of the member's replicas (`10.0.0.5:3000`, `10.0.0.5`). */
  hosts(): string[] {
    return this.pool.replicas.flatMap((r) => [r.url.host, r.url.hostname]);
  }

  /** Whether a replica of the member is serving and healthy now. */
  available(): boolean {
    return this.pool.replicas.some((r) => r.state === "serving" && r.healthy);
  }

  /** The replica a session opened at `createdAt` lives on, if it is still there. */
  holder(replicaId: string, createdAt: number): Replica | undefined {
    const replica = this.pool.get(replicaId);
    return replica?.holds(createdAt) ? replica : undefined;
  }

  /** What every POST to the member carries: the media types, and the route's own headers (fixed per pool). */
  private baseHeaders(): readonly string[] {
    this.base ??= ["content-type", "application/json", "accept", "application/json, text/event-stream"].concat(
      this.ownHeaders(),
    );
    return this.base;
  }

  /**
   * A message in the modern era: the client's hello in `_meta`, and the routing headers (with a tool's
   * `inputSchema`, the `Mcp-Param-*` headers its arguments call for).
   */
  modern(message: Message, hello: Hello, inputSchema?: unknown): { body: Message; headers: string[] } {
    const params = { ...(message.params ?? {}) };
    params._meta = {
      ...((params._meta as Record<string, unknown> | undefined) ?? {}),
      [META.protocolVersion]: FIRST_MODERN_VERSION,
      [META.clientInfo]: hello.clientInfo,
      [META.clientCapabilities]: hello.capabilities,
    };
    const headers = [H.protocolVersion, FIRST_MODERN_VERSION];
    if (message.method !== undefined) {
      headers.push(H.method, message.method);
      const field = NAMED[message.method];
      const target = field === undefined ? undefined : params[field];
      if (typeof target === "string") headers.push(H.name, encodeHeaderValue(target));
      if (inputSchema !== undefined) headers.push(...paramHeaders(inputSchema, params.arguments));
    }
    return { body: { ...message, params }, headers };
  }

  /**
   * POST `message` to `replica` with `headers` (the era's), and read the answer: a JSON body, or an SSE
   * stream whose messages before the answer go to `onMessage`. A 404 is `session-gone` when a session
   * was named; a connection failure, a timeout or a 5xx is `unavailable`. `cancel` is given a way to
   * stop it (a cancellation; the client leaving).
   */
  async post(
    replica: Replica,
    message: Message,
    headers: string[],
    options: {
      cancel?: Cancel;
      onMessage?: (m: Message) => void;
      onStream?: () => void;
      session?: boolean;
      /** Another path on the replica than its MCP endpoint (an HTTP+SSE session's message URL). */
      path?: string | undefined;
      /** The client's request's trace: this call is a CLIENT span of it. */
      trace?: RequestTrace | undefined;
    } = {},
  ): Promise<Posted> {
    const exchange = new MemberExchange(message.id, options.onMessage, options.onStream, options.cancel);
    const traced = options.trace?.memberCall(this.member, message, replica);
    if (traced) {
      for (const name in traced.headers) headers = headers.concat(name, traced.headers[name] as string);
      // The client put its context in `_meta`: the member gets the gateway's there too.
      const next = traced.headers.traceparent;
      if (options.trace?.metaTraceparent !== undefined && next !== undefined && message.params !== undefined) {
        const meta = (message.params._meta as Record<string, unknown> | undefined) ?? {};
        message = { ...message, params: { ...message.params, _meta: { ...meta, traceparent: next } } };
      }
    }
    replica.pool.dispatch(
      {
        path: options.path ?? replica.path,
        method: "POST",
        headers: this.baseHeaders().concat(headers),
        body: JSON.stringify(message),
        headersTimeout: this.headersTimeoutMs,
        bodyTimeout: 0,
      },
      exchange,
    );
    let received: Received;
    try {
      received = await exchange.done;
    } catch (err) {
      if (traced) endAttempt(traced.span, { error: "unavailable" });
      throw new MemberError(this.member, "unavailable", (err as Error).message);
    }
    if (traced) endAttempt(traced.span, { status: received.status });
    const sid = received.headers[H.sessionId];
    const sessionId = typeof sid === "string" ? sid : undefined;
    const status = received.status;
    if (status === 202) return { status, sessionId, answer: undefined, text: undefined };
    if (status === 404 && options.session) {
      throw new MemberError(this.member, "session-gone", "its session is gone (404)");
    }
    if (received.answer) return { status, sessionId, answer: received.answer, text: undefined };
    const text = received.text;
    if (text === undefined) {
      throw new MemberError(this.member, "ended", "the stream ended without an answer");
    }
    // A 2xx JSON object is the member's answer: read only if something needs to look into it (an answer
    // passed on as it came never is).
    if (status < 300 && text.charCodeAt(0) === 0x7b /* { */) {
      let parsed: Message | undefined;
      return {
        status,
        sessionId,
        text,
        get answer(): Message {
          parsed ??= JSON.parse(text) as Message;
          return parsed;
        },
      };
    }
    let answer: Message | undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) answer = parsed as Message;
    } catch {}
    // A JSON-RPC error answer (a 4xx with a body) is the member's word; anything else is a failure.
    if (answer !== undefined && ("result" in answer || "error" in answer)) {
      return { status, sessionId, answer, text };
    }
    throw new MemberError(this.member, "unavailable", `answered HTTP ${status} without a JSON-RPC answer`, status);
  }

  /**
   * A legacy member session's own stream (GET): each message to `onMessage` until the stream ends or
   * `signal` aborts. False when the member offers none (405) or refuses it; a lost session is `session-gone`.
   */
  async stream(
    replica: Replica,
    headers: string[],
    onMessage: (m: Message) => void,
    signal: AbortSignal,
  ): Promise<boolean> {
    const client = replica.streamClient();
    const cancel: Cancel = {};
    const stop = () => cancel.abort?.("the client left");
    signal.addEventListener("abort", stop, { once: true });
    try {
      // No message answers a GET: the exchange reads the stream to its end.
      const exchange = new MemberExchange(Symbol("none"), onMessage, undefined, cancel);
      client.dispatch(
        {
          path: replica.path,
          method: "GET",
          headers: ["accept", "text/event-stream"].concat(
            this.pool.injects ? this.pool.injection.headers : [],
            headers,
          ),
          headersTimeout: this.headersTimeoutMs,
          bodyTimeout: 0,
        },
        exchange,
      );
      if (signal.aborted) stop();
      const received = await exchange.done.catch((err: Error) => {
        throw new MemberError(this.member, "unavailable", err.message);
      });
      if (received.status === 404) throw new MemberError(this.member, "session-gone", "its session is gone (404)");
      return received.status === 200 && isEventStream(received.headers["content-type"]);
    } finally {
      signal.removeEventListener("abort", stop);
      void client.destroy().catch(() => {});
    }
  }

  /** DELETE a member's session (best effort: the member may have forgotten it already). */
  async end(replica: Replica, sessionId: string, protocolVersion: string): Promise<void> {
    try {
      const res = await replica.pool.request({
        path: replica.path,
        method: "DELETE",
        headers: this.baseHeaders().concat([H.sessionId, sessionId, H.protocolVersion, protocolVersion]),
        headersTimeout: this.headersTimeoutMs,
      });
      await res.body.dump();
    } catch {}
  }
}
