import type { IncomingHttpHeaders } from "node:http";
import {
  type Attributes,
  type Context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from "@opentelemetry/api";
import type { RpcMessage } from "../protocol/jsonrpc.js";
import { hashId } from "./hash.js";
import { endSpan, operationHistogram, sessionHistogram, tracer } from "./tracing.js";

/** The trace context keys the MCP specification reserves in `params._meta` (SEP-414). */
const META_KEYS = ["traceparent", "tracestate", "baggage"] as const;

/** What a request was, for its span: known once its body was read and classified. */
export interface Described {
  message: RpcMessage | undefined;
  sessionId: string | undefined;
  protocolVersion: string | undefined;
  era: string;
  route: string | undefined;
}

/** How a request ended, for its span and the operation's duration. */
export interface Outcome {
  status: number;
  route: string | undefined;
  tenant: string | undefined;
  replica: string | undefined;
  code: string | undefined;
  /** The client left before the answer ended. */
  aborted: boolean;
}

function metaOf(message: RpcMessage | undefined): Record<string, unknown> | undefined {
  const meta = message?.params?._meta;
  return meta !== null && typeof meta === "object" ? (meta as Record<string, unknown>) : undefined;
}

/** `{mcp.method.name} {target}` (a tool's or prompt's name: low cardinality), or the HTTP method and path. */
function spanName(d: Described, method: string, path: string): string {
  const m = d.message;
  if (m?.method === undefined) return `${method} ${path}`;
  const name = m.params?.name;
  const target =
    (m.method === "tools/call" || m.method === "prompts/get") && typeof name === "string" ? ` ${name}` : "";
  return `${m.method}${target}`;
}

/**
 * One request's trace (only when an OpenTelemetry SDK is registered): a SERVER span by the MCP semantic
 * conventions whose parent is the client's context — from `params._meta` when the JSON-RPC request
 * carries one (the conventions' choice; the HTTP `traceparent` is then a link), else from the header —
 * a CLIENT span per attempt to reach a replica, events for a stream's milestones, and the
 * `mcp.server.operation.duration` metric. No body, argument or raw session id goes into a span.
 */
export class RequestTrace {
  private readonly startTime = Date.now();
  private readonly started = performance.now();
  private span: Span | undefined;
  private readonly headerContext: Context;
  private described: Described | undefined;
  private attempts = 0;
  /** `_meta` carried a trace context: the replica gets its own in the body too. */
  metaTraceparent: string | undefined;
  /** When the session a DELETE ends was created (for `mcp.server.session.duration`). */
  sessionCreatedAt: number | undefined;

  constructor(
    private readonly method: string,
    private readonly path: string,
    headers: IncomingHttpHeaders,
  ) {
    this.headerContext = propagation.extract(ROOT_CONTEXT, headers);
  }

  /** The request's span, started (backdated to the request's arrival) once what it is is known. */
  begin(d: Described): void {
    if (this.span) return;
    this.described = d;
    const meta = metaOf(d.message);
    let parent = this.headerContext;
    const links: Link[] = [];
    if (meta && typeof meta.traceparent === "string") {
      const carrier: Record<string, string> = {};
      for (const k of META_KEYS) if (typeof meta[k] === "string") carrier[k] = meta[k] as string;
      const fromMeta = propagation.extract(ROOT_CONTEXT, carrier);
      const metaSpan = trace.getSpanContext(fromMeta);
      if (metaSpan) {
        this.metaTraceparent = meta.traceparent;
        const headerSpan = trace.getSpanContext(this.headerContext);
        if (headerSpan && headerSpan.spanId !== metaSpan.spanId) links.push({ context: headerSpan });
        parent = fromMeta;
      }
    }
    this.span = tracer().startSpan(
      spanName(d, this.method, this.path),
      { kind: SpanKind.SERVER, startTime: this.startTime, links },
      parent,
    );
    // A span the sampler dropped records nothing: its attributes are not even computed.
    if (this.span.isRecording()) this.span.setAttributes(this.attributes(d));
  }

  /** The request's span, begun without a description if nothing described the request (refused early). */
  private ensureSpan(route: string | undefined): void {
    if (!this.span)
      this.begin({ message: undefined, sessionId: undefined, protocolVersion: undefined, era: "unknown", route });
  }

  private attributes(d: Described): Attributes {
    const m = d.message;
    const a: Attributes = { "network.transport": "tcp", "switchyard.era": d.era };
    if (d.route !== undefined) a["switchyard.route"] = d.route;
    if (m?.method !== undefined) a["mcp.method.name"] = m.method;
    if (m?.kind === "request" && m.id !== null) a["jsonrpc.request.id"] = String(m.id);
    if (d.protocolVersion !== undefined) a["mcp.protocol.version"] = d.protocolVersion;
    // Hashed, as in the logs: a raw session id is a credential of sorts.
    if (d.sessionId !== undefined) a["mcp.session.id"] = hashId(d.sessionId);
    const name = m?.params?.name;
    if (m?.method === "tools/call" && typeof name === "string") {
      a["gen_ai.tool.name"] = name;
      a["gen_ai.operation.name"] = "execute_tool";
    }
    if (m?.method === "prompts/get" && typeof name === "string") a["gen_ai.prompt.name"] = name;
    return a;
  }

  /** A milestone of the request (a stream opened, a session learned): an event, not a span of its own. */
  event(name: string, attributes?: Attributes): void {
    this.span?.addEvent(name, attributes);
  }

  /**
   * An attempt to reach a replica: a CLIENT span (child of the request's), and the trace context the
   * replica gets — `traceparent` (and `tracestate`, `baggage`) as headers.
   */
  attempt(replica: { id: string; url: URL }): { span: Span; headers: Record<string, string> } {
    this.attempts++;
    this.ensureSpan(undefined);
    const parent = trace.setSpan(ROOT_CONTEXT, this.span as Span);
    if (!(this.span as Span).isRecording()) {
      // Not sampled: no CLIENT span (ending the request's own, unrecorded, is a no-op); the replica
      // still learns the trace and the decision.
      const headers: Record<string, string> = {};
      propagation.inject(parent, headers);
      return { span: this.span as Span, headers };
    }
    // What the SERVER span says already (tool, session, request id) is not repeated on its children.
    const attributes: Attributes = {
      "switchyard.replica": replica.id,
      "switchyard.attempt": this.attempts,
      "server.address": replica.url.hostname,
      "server.port": Number(replica.url.port || (replica.url.protocol === "https:" ? 443 : 80)),
    };
    const d = this.described;
    if (d?.message?.method !== undefined) attributes["mcp.method.name"] = d.message.method;
    const span = tracer().startSpan(
      d ? spanName(d, this.method, this.path) : `${this.method} ${this.path}`,
      { kind: SpanKind.CLIENT, attributes },
      parent,
    );
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent, span), headers);
    return { span, headers };
  }

  /**
   * Work of the gateway's own that leaves the process within the request (a session-store lookup in
   * Redis, a token exchange): an INTERNAL child span, ended by `end()` or `fail(why)`.
   */
  child(name: string, attributes: Attributes): { end(): void; fail(why: string): void } {
    this.ensureSpan(undefined);
    const span = tracer().startSpan(
      name,
      { kind: SpanKind.INTERNAL, attributes },
      trace.setSpan(ROOT_CONTEXT, this.span as Span),
    );
    return {
      end: () => span.end(),
      fail: (why) => endSpan(span, why),
    };
  }

  /** A CLIENT span for a call the gateway makes itself within the request (a virtual server's member). */
  memberCall(
    member: string,
    message: { method?: string | undefined; params?: Record<string, unknown> | undefined },
    replica: { id: string; url: URL },
  ): { span: Span; headers: Record<string, string> } {
    const made = this.attempt(replica);
    made.span.setAttribute("switchyard.member", member);
    const method = message.method;
    if (method !== undefined) {
      const name = message.params?.name;
      const target =
        (method === "tools/call" || method === "prompts/get") && typeof name === "string" ? ` ${name}` : "";
      made.span.setAttribute("mcp.method.name", method);
      if (method === "tools/call" && typeof name === "string") made.span.setAttribute("gen_ai.tool.name", name);
      made.span.updateName(`${method}${target}`);
    }
    return made;
  }

  /** The trace id, for the request's log line (undefined when not sampled). */
  get traceId(): string | undefined {
    const c = this.span?.spanContext();
    return c && (c.traceFlags & 1) === 1 ? c.traceId : undefined;
  }

  /** The request ended: the span gets how, and ends; the operation's duration is recorded. */
  end(o: Outcome): void {
    this.ensureSpan(o.route);
    const span = this.span as Span;
    const error = o.code ?? (o.status >= 500 ? String(o.status) : o.aborted ? "client_left" : undefined);
    if (span.isRecording()) {
      const a: Attributes = { "http.response.status_code": o.status };
      if (o.route !== undefined) a["switchyard.route"] = o.route;
      if (o.tenant !== undefined) a["switchyard.tenant"] = o.tenant;
      if (o.replica !== undefined) a["switchyard.replica"] = o.replica;
      if (o.code !== undefined) a["switchyard.code"] = o.code;
      span.setAttributes(a);
    }
    endSpan(span, error);
    const m = this.described?.message;
    const seconds = (performance.now() - this.started) / 1000;
    const metric: Attributes = {};
    if (m?.method !== undefined) metric["mcp.method.name"] = m.method;
    if (m?.method === "tools/call" && typeof m.params?.name === "string") metric["gen_ai.tool.name"] = m.params.name;
    if (error !== undefined) metric["error.type"] = error;
    if (o.route !== undefined) metric["switchyard.route"] = o.route;
    operationHistogram().record(seconds, metric);
    if (this.method === "DELETE" && o.status >= 200 && o.status < 300 && this.sessionCreatedAt !== undefined) {
      sessionHistogram().record(
        (Date.now() - this.sessionCreatedAt) / 1000,
        o.route === undefined ? {} : { "switchyard.route": o.route },
      );
    }
  }
}

/** End a CLIENT span: the replica's answer began (its status), or the attempt failed (why). */
export function endAttempt(span: Span, outcome: { status?: number; error?: string }): void {
  if (outcome.status !== undefined) span.setAttribute("http.response.status_code", outcome.status);
  endSpan(
    span,
    outcome.error ?? (outcome.status !== undefined && outcome.status >= 500 ? String(outcome.status) : undefined),
  );
}

/**
 * The body with the client's `params._meta.traceparent` value replaced by `next` (the replica's parent
 * is the gateway's span), every other byte as it came; undefined when the value is not found exactly once.
 */
export function withMetaTraceparent(body: Buffer, current: string, next: string): Buffer | undefined {
  const text = body.toString("utf8");
  const pattern = /"traceparent"\s*:\s*"([^"\\]*)"/g;
  let found: RegExpExecArray | undefined;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[1] !== current) continue;
    if (found) return undefined;
    found = m;
  }
  if (!found) return undefined;
  const start = found.index + found[0].length - 1 - current.length;
  return Buffer.from(text.slice(0, start) + next + text.slice(start + current.length), "utf8");
}
