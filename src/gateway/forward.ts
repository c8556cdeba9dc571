import type { Span } from "@opentelemetry/api";
import type { Client, Dispatcher } from "undici";
import { SwitchyardError } from "../errors.js";
import { publish } from "../observability/events.js";
import { endAttempt, withMetaTraceparent } from "../observability/request-trace.js";
import { isEventStream } from "../protocol/headers.js";
import { responseTo } from "../protocol/jsonrpc.js";
import { underCors } from "../security/cors.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "../security/header-policy.js";
import { EndpointScanner, endpointEvent, resolveEndpoint } from "../sse/endpoint.js";
import { SseRelay } from "../sse/relay.js";
import type { Replica } from "../upstream/replica.js";
import type { RequestContext } from "./context.js";
import { forgetSession, learnFromResponse } from "./learn.js";
import { respondError } from "./respond.js";
import { retryAfter, storeUnavailable } from "./route.js";
import { openSseSession, type SseSession } from "./sse-session.js";
import type { GatewayState } from "./state.js";

/** Errors raised before the request could reach the replica: safe to retry elsewhere, and a sign it is down. */
const CONNECT_ERRORS = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

type Headers = Record<string, string | string[] | undefined>;

/**
 * Send the request to `ctx.replica` and stream the answer back: headers once learned from, then the
 * body chunk by chunk (SSE through a relay that adds heartbeats between events). The upstream is paused
 * while the client's buffer is full, and aborted when the client leaves or stalls too long.
 */
export function forward(ctx: RequestContext, gw: GatewayState): void {
  const replica = ctx.replica;
  if (!replica) throw new Error("forward before route");
  // The client may have left while the body was read or the session looked up: then nothing is sent.
  if (ctx.res.destroyed || ctx.req.socket.destroyed) return;
  ctx.exchange = new Exchange(ctx, gw);
  ctx.exchange.send(replica);
}

function onSlowClient(exchange: Exchange): void {
  exchange.slowClient();
}

export class Exchange implements Dispatcher.DispatchHandler {
  private replica!: Replica;
  private controller: Dispatcher.DispatchController | undefined;
  private inFlight = false;
  private responseStarted = false;
  /** The answer waits: for its head (the session store learning a new session), or while an HTTP+SSE endpoint is learned. */
  private held = true;
  /** Chunks that arrived while held. */
  private pending: Buffer[] | undefined;
  private endPending = false;
  private relay: SseRelay | undefined;
  /** An HTTP+SSE stream until its endpoint event has been seen. */
  private scanner: EndpointScanner | undefined;
  /** A list answer being collected whole, to be filtered for the token before it goes out. */
  private filtering: { status: number; headers: Headers; chunks: Buffer[]; bytes: number } | undefined;
  /** The HTTP+SSE session this stream holds open. */
  private sseSession: SseSession | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private clientGone = false;
  /** The gateway answered the client itself (the store failed): the upstream's answer is dropped. */
  private refused = false;
  /** A GET stream's own upstream connection (see `Replica.streamClient`). */
  private ownClient: Client | undefined;
  /** When the request went upstream (for the upstream latency). */
  private sentAt = 0;
  /** Upstream request headers, kept until a response starts (a retry needs them). */
  private headers: string[] | undefined;
  /** This attempt's CLIENT span (traced requests only). */
  private attemptSpan: Span | undefined;

  constructor(
    private readonly ctx: RequestContext,
    private readonly gw: GatewayState,
  ) {
    const { req } = ctx;
    this.headers = upstreamRequestHeaders(req.headers, {
      clientAddress: req.socket.remoteAddress,
      proto: "encrypted" in req.socket && req.socket.encrypted ? "https" : "http",
      trustProxy: gw.config.security.trustProxy,
      inject: ctx.pool?.injects ? ctx.pool.injection : undefined,
    });
    if (ctx.upstreamAuthorization !== undefined) this.headers.push("authorization", ctx.upstreamAuthorization);
    const upstreamSid = ctx.upstreamSessionId;
    if (upstreamSid !== undefined) {
      const i = this.headers.indexOf("mcp-session-id");
      if (i >= 0) this.headers[i + 1] = upstreamSid;
    }
  }

  send(replica: Replica): void {
    this.replica = replica;
    this.ctx.replica = replica;
    this.controller = undefined;
    this.responseStarted = false;
    replica.inFlight++;
    this.inFlight = true;
    const q = this.ctx.query;
    const path =
      this.ctx.upstreamPath ??
      (q === "" ? replica.path : `${replica.path}${replica.path.includes("?") ? `&${q.slice(1)}` : q}`);
    const timeouts = this.gw.config.timeouts;
    if (this.ctx.info?.longLived) this.ownClient = replica.streamClient();
    const dispatcher = this.ownClient ?? replica.pool;
    let headers = this.headers;
    let body = this.ctx.body ?? null;
    const traced = this.ctx.trace;
    if (traced) {
      // Each attempt a CLIENT span; the replica's parent is it: in the headers, and in `_meta` when the client put its context there.
      const attempt = traced.attempt(replica);
      this.attemptSpan = attempt.span;
      headers = withTraceHeaders(headers ?? [], attempt.headers);
      const next = attempt.headers.traceparent;
      if (body && traced.metaTraceparent !== undefined && next !== undefined) {
        body = withMetaTraceparent(body, traced.metaTraceparent, next) ?? body;
      }
    }
    this.sentAt = performance.now();
    dispatcher.dispatch(
      {
        path,
        method: this.ctx.req.method as Dispatcher.HttpMethod,
        headers,
        body,
        headersTimeout: this.ctx.endpoint === "messages" ? timeouts.sseMessage : timeouts.upstreamHeaders,
        bodyTimeout: 0,
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error("client went away"));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers): void {
    if (status < 200) return;
    this.responseStarted = true;
    this.attemptSpan?.setAttribute("http.response.status_code", status);
    if (status >= 500) this.attemptSpan?.setAttribute("error.type", String(status));
    this.ctx.upstreamMs = performance.now() - this.sentAt;
    // Memory held for the life of a stream: drop what is only needed before the response starts
    // (the request headers for a retry, undici's copy of the raw response head).
    this.headers = undefined;
    controller.rawHeaders = null;
    const learning = learnFromResponse(this.ctx, this.gw, status, headers);
    if (!learning) {
      this.writeHead(status, headers);
      return;
    }
    controller.pause();
    learning.then(
      () => {
        this.writeHead(status, headers);
        this.unhold(controller);
      },
      (err: Error) => {
        // The new session could not be stored, so no gateway could route it: the client retries instead.
        this.refused = true;
        this.pending = undefined;
        controller.abort(err);
        respondError(this.ctx, storeUnavailable(err));
      },
    );
  }

  private writeHead(status: number, upstream: Headers): void {
    const { res } = this.ctx;
    if (res.destroyed) return;
    if (this.ctx.listFilter && status === 200) {
      this.filtering = { status, headers: upstream, chunks: [], bytes: 0 };
      this.held = false;
      return;
    }
    this.ctx.capture?.start(status, upstream["content-type"]);
    const headers = this.responseHeaders(upstream);
    const sse = isEventStream(upstream["content-type"]);
    if (sse) {
      // Tell a proxy in front not to buffer, once, whatever the upstream said.
      const i = headers.indexOf("x-accel-buffering");
      if (i >= 0 && i % 2 === 0) headers[i + 1] = "no";
      else headers.push("x-accel-buffering", "no");
      this.relay = new SseRelay(res, this.gw.config.heartbeat.interval);
    }
    res.writeHead(status, headers);
    if (sse) {
      res.flushHeaders();
      this.ctx.trace?.event("stream.opened");
    }
    if (sse && this.ctx.endpoint === "sse" && status < 300) this.scanner = new EndpointScanner();
    this.held = false;
  }

  /** The upstream's response headers as the client gets them. */
  private responseHeaders(upstream: Headers): string[] {
    // With CORS answered here (an allowed Origin), the upstream's own CORS headers do not count.
    return this.ctx.res.hasHeader("access-control-allow-origin")
      ? underCors(clientResponseHeaders(upstream))
      : clientResponseHeaders(upstream);
  }

  /** Deliver what arrived while held, then let the upstream go on (unless held again, or the client is full). */
  private unhold(controller: Dispatcher.DispatchController): void {
    this.held = false;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) for (const chunk of pending) this.onResponseData(controller, chunk);
    if (this.held) return;
    if (this.endPending) this.finish();
    else if (!this.stallTimer) controller.resume();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.held) {
      this.pending ??= [];
      this.pending.push(chunk);
      return;
    }
    if (this.scanner) {
      this.scanEndpoint(controller, chunk);
      return;
    }
    this.deliver(controller, chunk);
  }

  /**
   * HTTP+SSE: hold the stream until the replica's endpoint event, then announce the gateway's message
   * URL in its place once the session is routable from every gateway.
   */
  private scanEndpoint(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const scan = (this.scanner as EndpointScanner).push(chunk);
    if (scan.kind === "more") return;
    this.scanner = undefined;
    const endpoint = scan.kind === "found" ? resolveEndpoint(scan.data, this.replica.url) : undefined;
    if (scan.kind !== "found" || endpoint === undefined) {
      publish("fault", {
        where: "forward",
        code: "SWY_UPSTREAM_PROTOCOL_ERROR",
        message: "HTTP+SSE stream without a valid endpoint event on the replica's own origin",
      });
      controller.abort(new Error("no valid endpoint event"));
      this.ctx.res.destroy();
      return;
    }
    this.held = true;
    controller.pause();
    openSseSession(this.ctx, this.gw, endpoint).then(
      (session) => {
        if (this.clientGone || this.ctx.res.destroyed) {
          session.end();
          return;
        }
        this.sseSession = session;
        this.deliver(controller, scan.before);
        this.deliver(controller, endpointEvent(session.url, scan.id));
        this.deliver(controller, scan.after);
        this.unhold(controller);
      },
      (err: Error) => {
        // Not routable: the client reconnects and tries again.
        const code = err instanceof SwitchyardError ? err.code : "SWY_STORE_UNAVAILABLE";
        publish("fault", { where: "sse-session", code, message: err.message });
        controller.abort(err);
        this.ctx.res.destroy();
      },
    );
  }

  private deliver(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.filtering) {
      this.filtering.chunks.push(chunk);
      this.filtering.bytes += chunk.length;
      if (this.filtering.bytes > this.gw.config.limits.maxBodyBytes) {
        // A list answer larger than any body the gateway accepts: cut, never held without bound.
        controller.abort(new Error("list answer too large to filter"));
        this.ctx.res.destroy();
      }
      return;
    }
    this.ctx.capture?.push(chunk);
    const { res } = this.ctx;
    if (res.destroyed) return;
    const ok = this.relay ? this.relay.write(chunk) : res.write(chunk);
    if (!ok && !this.stallTimer) {
      controller.pause();
      this.stallTimer = setTimeout(onSlowClient, this.gw.config.limits.slowClientTimeout, this);
      res.once("drain", () => this.onDrain());
    }
  }

  private onDrain(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.controller?.resume();
  }

  /** The client took nothing of a full buffer for `slowClientTimeout`: drop it (the upstream is aborted). */
  slowClient(): void {
    this.stallTimer = undefined;
    publish("fault", {
      where: "forward",
      code: "SWY_SLOW_CLIENT",
      message: `client read nothing for ${this.gw.config.limits.slowClientTimeout} ms with a full buffer`,
    });
    this.ctx.res.destroy();
  }

  onResponseEnd(): void {
    this.release();
    if (this.refused) return;
    if (this.held) this.endPending = true;
    else this.finish();
  }

  private finish(): void {
    if (this.filtering) {
      this.finishFiltered(this.filtering);
      return;
    }
    this.ctx.capture?.end();
    this.relay?.stop();
    if (!this.ctx.res.destroyed) this.ctx.res.end();
  }

  /** The whole list answer: the result the token may see, as JSON (anything else passes as it came). */
  private finishFiltered(f: NonNullable<typeof this.filtering>): void {
    const { res } = this.ctx;
    if (res.destroyed) return;
    const body = Buffer.concat(f.chunks);
    const id = this.ctx.messages[0]?.id;
    const answer = responseTo(body, isEventStream(f.headers["content-type"]), id);
    const result = answer?.result;
    if (result && typeof result === "object" && this.ctx.listFilter) {
      const filtered = Buffer.from(
        JSON.stringify({ ...answer, result: this.ctx.listFilter(result as Record<string, unknown>) }),
      );
      const all = this.responseHeaders(f.headers);
      const headers: string[] = [];
      for (let i = 0; i < all.length; i += 2) {
        const name = (all[i] as string).toLowerCase();
        if (name !== "content-type" && name !== "content-length") headers.push(all[i] as string, all[i + 1] as string);
      }
      res.writeHead(f.status, [
        ...headers,
        "content-type",
        "application/json",
        "content-length",
        String(filtered.length),
      ]);
      res.end(filtered);
      return;
    }
    res.writeHead(f.status, this.responseHeaders(f.headers));
    res.end(body);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.attemptSpan) {
      endAttempt(this.attemptSpan, { error: (err as { code?: string }).code ?? "connection_error" });
      this.attemptSpan = undefined;
    }
    this.release();
    this.relay?.stop();
    clearTimeout(this.stallTimer);
    if (this.clientGone || this.refused) return;
    if (this.responseStarted) {
      // The answer broke midway: the client must see a broken response, not a complete one.
      this.ctx.res.destroy();
      return;
    }
    this.failedBeforeResponse(err);
  }

  private failedBeforeResponse(err: Error): void {
    const code = (err as { code?: string }).code ?? "";
    const { ctx, gw, replica } = this;
    if (code === "SWY_ADDRESS_REFUSED") {
      publish("fault", { where: "connect", code: "SWY_UPSTREAM_ADDRESS_REFUSED", message: err.message });
      publish("ssrf", { stage: "connect", route: ctx.pool?.name });
      respondError(ctx, new SwitchyardError("SWY_UPSTREAM_ADDRESS_REFUSED", { cause: err }));
      return;
    }
    if (!CONNECT_ERRORS.has(code)) {
      const swy = code === "UND_ERR_HEADERS_TIMEOUT" ? "SWY_UPSTREAM_TIMEOUT" : "SWY_UPSTREAM_PROTOCOL_ERROR";
      respondError(ctx, new SwitchyardError(swy, { cause: err }));
      return;
    }
    gw.health.passiveFailure(replica, code);
    const sid = ctx.info?.sessionId;
    const pool = ctx.pool;
    // A sticky session dies with its replica; a shared one (`sessions: shared`) goes on elsewhere.
    if (sid !== undefined && pool && !pool.sharedSessions) {
      forgetSession(gw, pool.name, sid, replica.id, "replica unreachable").then(
        () => respondError(ctx, new SwitchyardError("SWY_SESSION_REPLICA_GONE")),
        () => respondError(ctx, new SwitchyardError("SWY_SESSION_REPLICA_GONE")),
      );
      return;
    }
    // Nothing reached the replica: a session-less (or shared-session) request may try another one.
    const next = pool?.pick(replica);
    if (next) {
      this.send(next);
      return;
    }
    const swy = code === "UND_ERR_CONNECT_TIMEOUT" ? "SWY_UPSTREAM_CONNECT_TIMEOUT" : "SWY_NO_HEALTHY_UPSTREAM";
    respondError(ctx, new SwitchyardError(swy, { headers: retryAfter(gw), cause: err }));
  }

  private release(): void {
    if (this.attemptSpan) {
      this.attemptSpan.end();
      this.attemptSpan = undefined;
    }
    if (this.ownClient) {
      this.ownClient.destroy().catch(() => {});
      this.ownClient = undefined;
    }
    if (!this.inFlight) return;
    this.inFlight = false;
    this.replica.inFlight--;
  }

  /** The client's response closed (called by the pipeline): if it had not finished, the client left. */
  clientClosed(): void {
    this.sseSession?.end();
    if (this.ctx.res.writableFinished) return;
    this.clientGone = true;
    this.ctx.trace?.event("client.left");
    this.relay?.stop();
    clearTimeout(this.stallTimer);
    this.controller?.abort(new Error("client went away"));
  }
}

/** The upstream headers with the trace context of this attempt in place of any the client sent. */
function withTraceHeaders(headers: string[], context: Record<string, string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name === "traceparent" || name === "tracestate" || name === "baggage") continue;
    out.push(name, headers[i + 1] as string);
  }
  for (const name in context) out.push(name, context[name] as string);
  return out;
}
