import { randomBytes } from "node:crypto";
import { errorBody, SwitchyardError } from "../errors.js";
import { upstreamAuthorization } from "../gateway/authorize.js";
import type { RequestContext } from "../gateway/context.js";
import { serveFromCache } from "../gateway/list-cache-stage.js";
import { respondJson } from "../gateway/respond.js";
import type { GatewayState } from "../gateway/state.js";
import { acceptance, H } from "../protocol/headers.js";
import { META, metaOf } from "../protocol/jsonrpc.js";
import { isModernRequest, modernRefusal, SUPPORTED_MODERN_VERSIONS } from "../protocol/modern-request.js";
import { paramHeaderMismatch } from "../protocol/routing-headers.js";
import { LATEST_LEGACY_VERSION, LEGACY_VERSIONS } from "../protocol/versions.js";
import type { SessionRecord } from "../sessions/store.js";
import { SseRelay } from "../sse/relay.js";
import { EVERY_LIST, fanIn, type ListFilter } from "./fan-in.js";
import type { Cancel } from "./member-exchange.js";
import { gatewayId, type Hello, MemberError, type Message } from "./member-link.js";
import type { Caller } from "./members.js";
import {
  decodeCursor,
  isListMethod,
  LISTS,
  type ListMethod,
  mergeCapabilities,
  mergeInstructions,
  mergePages,
  type Page,
} from "./merge.js";
import { relayedId, relayedOrigin } from "./relayed-id.js";
import type { VirtualServer } from "./virtual-server.js";
import { openVirtualSession, sealVirtualSession } from "./virtual-token.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The answer to one client request, as JSON — or as an SSE stream once a member sends something before
 * its answer (progress, a log message) that the client should see as it happens.
 */
class Reply {
  private streaming = false;

  constructor(
    private readonly ctx: RequestContext,
    /** The client speaks 2026-07-28: every result says it is complete (`resultType`). */
    private readonly modern: boolean,
  ) {}

  /** The answer goes out as a stream, as the member's came (if the client accepts one). */
  stream(): void {
    const { res } = this.ctx;
    if (this.streaming || res.destroyed || !acceptance(this.ctx.req.headers.accept).sse) return;
    this.streaming = true;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  }

  /**
   * A member's message before its answer: it opens the stream (if the client accepts one; else it is
   * dropped). A request of the member's goes out under an id that names the member (`relayed-id.ts`).
   */
  message(member: string, message: Message): void {
    const { res } = this.ctx;
    const m = relayed(member, message);
    this.stream();
    if (!this.streaming || res.destroyed) return;
    res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
  }

  /** The answer; `text`, when given, is its JSON as it came: sent as it is unless it must change. */
  answer(answer: Message, headers: Record<string, string> = {}, text?: string): void {
    const { res } = this.ctx;
    if (res.destroyed) return;
    const result = answer.result;
    const stamp = this.modern && isObject(result) && result.resultType === undefined;
    const body =
      text !== undefined && !stamp
        ? text
        : JSON.stringify(stamp ? { ...answer, result: { ...(result as Json), resultType: "complete" } } : answer);
    if (this.streaming) {
      res.end(`event: message\ndata: ${body}\n\n`);
      return;
    }
    const head = ["content-type", "application/json", "content-length", String(Buffer.byteLength(body))];
    for (const name in headers) head.push(name, headers[name] as string);
    res.writeHead(200, head);
    res.end(body);
    // A cacheable answer the list cache missed: kept if its hints allow (`list-cache-stage.ts`).
    const capture = this.ctx.capture;
    if (capture) {
      capture.start(200, "application/json");
      capture.push(Buffer.from(body));
      capture.end();
    }
  }

  /** The stream ends without an answer (a cancelled request). */
  end(): void {
    const { res } = this.ctx;
    if (res.destroyed) return;
    if (!this.streaming) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.end();
  }

  /** A JSON-RPC error of the gateway's, in the answer's place (HTTP 200 in a session, the table's status for a modern client). */
  error(error: SwitchyardError, data: Json = {}): void {
    this.ctx.code = error.code;
    const body = JSON.parse(errorBody(error, this.ctx.info?.rpcId ?? null)) as Json;
    (body.error as Json).data = { ...((body.error as Json).data as Json), ...data };
    if (!this.streaming && this.modern && error.status !== 200) {
      respondJson(this.ctx, error.status, body, error.headers);
      return;
    }
    this.answer(body);
  }
}

/**
 * The POSTed message as the virtual server reads it: a request or notification from what the pipeline
 * parsed; an answer (to a member's request) from the body, whose `result` or `error` it carries on.
 */
function messageOf(ctx: RequestContext): Message | undefined {
  const rpc = ctx.messages[0];
  if (rpc === undefined || ctx.messages.length !== 1) return undefined;
  if (rpc.kind !== "response") {
    const m: Message = { jsonrpc: "2.0", method: rpc.method };
    if (rpc.kind === "request") m.id = rpc.id;
    if (rpc.params !== undefined) m.params = rpc.params;
    return m;
  }
  return JSON.parse((ctx.body as Buffer).toString("utf8")) as Message;
}

/** A member's message as the client gets it: a request of the member's under an id that names it. */
function relayed(member: string | undefined, m: Message): Message {
  return member !== undefined && m.method !== undefined && m.id !== undefined && m.id !== null
    ? { ...m, id: relayedId(member, m.id) }
    : m;
}

const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/**
 * The client's notification stream: a legacy session's GET stream, or a modern `subscriptions/listen`
 * (acknowledged first, each message tagged with the subscription's id). The members' streams feed it
 * (`fan-in.ts`); heartbeats keep it open between events; it ends when the client leaves.
 */
function openStream(
  ctx: RequestContext,
  gw: GatewayState,
  v: VirtualServer,
  caller: Caller,
  filter: ListFilter,
  subscription?: unknown,
): void {
  const { res } = ctx;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  res.flushHeaders();
  const relay = new SseRelay(res, gw.config.heartbeat.interval);
  const abort = new AbortController();
  res.once("close", () => {
    abort.abort();
    relay.stop();
  });
  const send = (m: Message) => {
    const out =
      subscription === undefined
        ? m
        : {
            ...m,
            params: {
              ...(m.params ?? {}),
              _meta: { ...((m.params?._meta as Json | undefined) ?? {}), [SUBSCRIPTION_ID]: subscription },
            },
          };
    relay.write(Buffer.from(`event: message\ndata: ${JSON.stringify(out)}\n\n`));
  };
  if (subscription !== undefined) {
    send({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { notifications: filter } });
  }
  fanIn(
    v,
    caller,
    filter,
    (member, m) => send(relayed(member, m)),
    abort.signal,
    () => res.end(),
  );
}

/** The client's hello: from `initialize` (legacy), or from the request's `_meta` (modern). */
function helloOf(message: Message, modern: boolean): Hello {
  const params = message.params ?? {};
  if (modern) {
    return {
      protocolVersion: String(metaOf(message as never, META.protocolVersion)),
      capabilities: (metaOf(message as never, META.clientCapabilities) as Json | undefined) ?? {},
      clientInfo: (metaOf(message as never, META.clientInfo) as Hello["clientInfo"] | undefined) ?? {
        name: "unknown",
        version: "0",
      },
    };
  }
  const requested = params.protocolVersion;
  return {
    protocolVersion:
      typeof requested === "string" && (LEGACY_VERSIONS as readonly string[]).includes(requested)
        ? requested
        : LATEST_LEGACY_VERSION,
    capabilities: isObject(params.capabilities) ? params.capabilities : {},
    clientInfo: isObject(params.clientInfo)
      ? (params.clientInfo as Hello["clientInfo"])
      : { name: "unknown", version: "0" },
  };
}

/**
 * The last stage of a virtual server's request (federation): the gateway answers as the MCP server
 * itself — `initialize` and the lists from what its members say, calls routed by name to the member
 * that serves them — in the client's era, whatever era each member speaks.
 */
export async function serveVirtual(ctx: RequestContext, gw: GatewayState, v: VirtualServer): Promise<void> {
  const method = ctx.req.method;
  const message = method === "POST" ? messageOf(ctx) : undefined;
  // The client's era, as the virtual server sees it: a session (or a handshake) is legacy, whatever a
  // header says; without one, the envelope (or a modern MCP-Protocol-Version) makes it modern — and then
  // it is checked as a server of that revision checks it.
  const rpc = ctx.messages[0];
  const modern = ctx.info?.sessionId === undefined && rpc !== undefined && isModernRequest(rpc, ctx.req.headers);
  if (modern) {
    const refusal = modernRefusal(rpc, ctx.req.headers);
    if (refusal) throw refusal;
  }
  if (method === "DELETE") {
    const caller = await sessionCaller(ctx, gw, v);
    const sid = caller.session as string;
    await v.members.end(caller);
    await gw.store.forget(v.name, sid).catch(() => {});
    // A signed id is refused from now on by every gateway sharing revocations, until it expires anyway.
    const opened = gw.tokens && openVirtualSession(gw, gw.tokens, v.name, ctx.principal, sid);
    if (opened) await gw.store.revoke(v.name, sid, opened.expiresAt).catch(() => {});
    ctx.res.writeHead(200).end();
    return;
  }
  if (method === "GET") {
    openStream(ctx, gw, v, await sessionCaller(ctx, gw, v), EVERY_LIST);
    return;
  }
  if (v.config.onMemberFailure === "closed" && v.down().length > 0) {
    throw new SwitchyardError("SWY_VIRTUAL_UNAVAILABLE", {
      detail: `down: ${v.down().join(", ")}`,
      headers: { "retry-after": String(Math.max(1, Math.ceil(gw.config.health.interval / 1000))) },
    });
  }
  if (ctx.messages.length !== 1 || message === undefined) {
    throw new SwitchyardError("SWY_INVALID_REQUEST", { detail: "no batches here" });
  }
  if (message.method === "initialize") return initialize(ctx, gw, v, message);
  const caller: Caller = modern
    ? {
        principal: ctx.principal,
        hello: helloOf(message, true),
        session: undefined,
        authorize: memberCredentials(ctx, gw),
      }
    : await sessionCaller(ctx, gw, v);
  if (message.method === "subscriptions/listen" && modern && message.id !== undefined) {
    const asked = isObject(message.params?.notifications) ? (message.params.notifications as Json) : {};
    const filter = {
      toolsListChanged: asked.toolsListChanged === true,
      promptsListChanged: asked.promptsListChanged === true,
      resourcesListChanged: asked.resourcesListChanged === true,
    };
    openStream(ctx, gw, v, caller, filter, message.id);
    return;
  }
  const reply = new Reply(ctx, modern);
  if (message.method === undefined || message.id === undefined) {
    await deliver(v, message, caller);
    ctx.res.writeHead(202).end();
    return;
  }
  try {
    await answer(ctx, gw, v, message, caller, reply, modern);
  } catch (err) {
    if (!(err instanceof MemberError)) throw err;
    if (v.config.onMemberFailure === "closed") {
      throw new SwitchyardError("SWY_VIRTUAL_UNAVAILABLE", { detail: `member ${err.member}` });
    }
    reply.error(new SwitchyardError("SWY_MEMBER_UNAVAILABLE", { detail: `member ${err.member}` }), {
      member: err.member,
    });
  }
}

/**
 * A notification or an answer of the client's, taken with 202: an answer goes back to the member that
 * asked (its own id restored); `notifications/cancelled` stops the request here and goes to every member
 * the client has a session with (a member ignores a request id it does not know), as does
 * `notifications/roots/list_changed`. Other notifications (`initialized`) concern the gateway alone.
 */
async function deliver(v: VirtualServer, message: Message, caller: Caller): Promise<void> {
  if (message.method === undefined) {
    const origin = relayedOrigin(message.id);
    if (origin && v.members.links.has(origin.member)) {
      await v.members.request(origin.member, { ...message, id: origin.id }, caller).catch(() => undefined);
    }
    return;
  }
  if (message.method === "notifications/cancelled") {
    inFlight.get(flightKey(v, caller, message.params?.requestId))?.abort?.("cancelled by the client");
  } else if (message.method !== "notifications/roots/list_changed") {
    return;
  }
  await v.members.notifyHeld(message, caller);
}

/** Requests being answered here, by virtual session and request id: a cancellation aborts them. */
const inFlight = new Map<string, Cancel>();

function flightKey(v: VirtualServer, caller: Caller, id: unknown): string {
  return `${v.name}\u0000${caller.session ?? caller.principal}\u0000${JSON.stringify(id)}`;
}

/** The virtual session a legacy client names, bound to the principal that opened it; else 404 (or 400 without one). */
async function sessionCaller(ctx: RequestContext, gw: GatewayState, v: VirtualServer): Promise<Caller> {
  const sid = ctx.info?.sessionId;
  if (sid === undefined) throw new SwitchyardError("SWY_SESSION_REQUIRED");
  const caller = (hello: Hello): Caller => ({
    principal: ctx.principal,
    hello,
    session: sid,
    authorize: memberCredentials(ctx, gw),
  });
  const tokens = gw.tokens;
  if (tokens) {
    // A signed id carries what the session is; this gateway keeps a record of it (its member sessions'
    // idle expiry reads it) — made on first sight, when another gateway replica opened the session.
    const opened = openVirtualSession(gw, tokens, v.name, ctx.principal, sid);
    if (!opened) throw new SwitchyardError("SWY_SESSION_NOT_FOUND");
    if (gw.store.peek(v.name, sid) === undefined) await remember(gw, v, sid, ctx.principal, opened.hello);
    return caller(opened.hello);
  }
  let record: SessionRecord | undefined;
  try {
    record = gw.store.peek(v.name, sid) ?? (await gw.store.get(v.name, sid));
  } catch (err) {
    throw new SwitchyardError("SWY_STORE_UNAVAILABLE", { headers: { "retry-after": "1" }, cause: err });
  }
  if (!record?.hello || record.principal !== ctx.principal) throw new SwitchyardError("SWY_SESSION_NOT_FOUND");
  return caller(record.hello as Hello);
}

/** With a bearer token: each member's own credential for it, by token exchange (never the token itself). */
function memberCredentials(ctx: RequestContext, gw: GatewayState): Caller["authorize"] {
  return ctx.token === undefined ? undefined : (exchange) => upstreamAuthorization(ctx, gw, exchange);
}

/** A virtual session's record in the session store: its principal and its client's hello. */
async function remember(
  gw: GatewayState,
  v: VirtualServer,
  sid: string,
  principal: string,
  hello: Hello,
): Promise<void> {
  const now = Date.now();
  try {
    await gw.store.learn(v.name, sid, {
      route: v.name,
      replica: "",
      principal,
      era: "legacy",
      createdAt: now,
      lastSeenAt: now,
      hello,
    });
  } catch (err) {
    throw new SwitchyardError("SWY_STORE_UNAVAILABLE", { headers: { "retry-after": "1" }, cause: err });
  }
}

/** What the virtual server is, from its members: capabilities, instructions, and its own serverInfo. */
async function describe(v: VirtualServer): Promise<Json> {
  const catalog = await v.current();
  const infos = [...catalog.infos];
  const instructions = mergeInstructions(
    v.config.instructions,
    infos.map(([member, info]) => [member, info.instructions]),
  );
  return {
    capabilities: mergeCapabilities(infos.map(([, info]) => info.capabilities)),
    serverInfo: v.config.serverInfo ?? { name: v.name, version: "1.0.0" },
    ...(instructions === undefined ? {} : { instructions }),
  };
}

/** `initialize`: a new virtual session, answered by the gateway; member sessions open when first needed. */
async function initialize(ctx: RequestContext, gw: GatewayState, v: VirtualServer, message: Message): Promise<void> {
  const hello = helloOf(message, false);
  const sid = gw.tokens
    ? sealVirtualSession(gw.tokens, v.name, ctx.principal, hello)
    : randomBytes(24).toString("base64url");
  await remember(gw, v, sid, ctx.principal, hello);
  const described = await describe(v);
  respondJson(
    ctx,
    200,
    { jsonrpc: "2.0", id: message.id, result: { protocolVersion: hello.protocolVersion, ...described } },
    { [H.sessionId]: sid },
  );
}

/** A request of a client's: answered by the gateway (ping, lists, discover) or routed to its member. */
async function answer(
  ctx: RequestContext,
  gw: GatewayState,
  v: VirtualServer,
  message: Message,
  caller: Caller,
  reply: Reply,
  modern: boolean,
): Promise<void> {
  const method = message.method as string;
  const params = message.params ?? {};
  const answerWith = (result: Json) => reply.answer({ jsonrpc: "2.0", id: message.id, result });
  const unknown = (what: string) => reply.error(new SwitchyardError("SWY_UNKNOWN_NAME", { detail: what }));
  if (method === "ping") return answerWith({});
  if (method === "server/discover" && modern) {
    const described = await describe(v);
    const { serverInfo, ...rest } = described;
    // Not kept by caches: the members (and so what this server is) may change at any time.
    return answerWith({
      supportedVersions: [...SUPPORTED_MODERN_VERSIONS],
      ...rest,
      ttlMs: 0,
      cacheScope: "private",
      _meta: { "io.modelcontextprotocol/serverInfo": serverInfo },
    });
  }
  if (isListMethod(method)) {
    // A modern client's list: from the shared cache while the members' hints allow, as on any route.
    if (modern && serveFromCache(ctx, gw)) return;
    let merged = await mergedList(v, method, params, caller, reply, !modern);
    // Only what the token's scopes allow (the virtual server's own policy, names as its clients see them).
    if (ctx.listFilter) merged = ctx.listFilter(merged);
    // A modern list result carries its cache hints; unless every member gave them, it is not to be kept.
    if (modern && merged.ttlMs === undefined) Object.assign(merged, { ttlMs: 0, cacheScope: "private" });
    return answerWith(merged);
  }
  let member: string | undefined;
  let routed: Json = params;
  let inputSchema: unknown;
  if (method === "tools/call" || method === "prompts/get") {
    const kind = method === "tools/call" ? "tool" : "prompt";
    const name = typeof params.name === "string" ? params.name : "";
    const resolving = v.resolve(kind, name, caller);
    const origin = resolving instanceof Promise ? await resolving : resolving;
    if (!origin) return unknown(`${kind} ${name}`);
    member = origin.member;
    routed = { ...params, name: origin.name };
    if (kind === "tool") inputSchema = v.inputSchema(origin);
    const mismatch = modern ? paramHeaderMismatch(inputSchema, params.arguments, ctx.req.headers) : undefined;
    if (mismatch !== undefined) throw new SwitchyardError("SWY_HEADER_MISMATCH", { detail: mismatch });
  } else if (method === "resources/read" || method === "resources/subscribe" || method === "resources/unsubscribe") {
    const uri = typeof params.uri === "string" ? params.uri : "";
    member = await v.resourceOwner(uri, caller);
    if (member === undefined) return unknown(`resource ${uri}`);
  } else if (method === "completion/complete") {
    const ref = isObject(params.ref) ? params.ref : {};
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      const origin = await v.resolve("prompt", ref.name, caller);
      if (!origin) return unknown(`prompt ${ref.name}`);
      member = origin.member;
      routed = { ...params, ref: { ...ref, name: origin.name } };
    } else if (typeof ref.uri === "string") {
      member = await v.resourceOwner(ref.uri, caller);
      if (member === undefined) return unknown(`resource ${ref.uri}`);
    }
  } else if (method === "logging/setLevel") {
    await Promise.allSettled(v.members.names.map((m) => v.members.request(m, message, caller)));
    return answerWith({});
  }
  if (member === undefined) {
    const error = new SwitchyardError("SWY_METHOD_NOT_FOUND", { detail: method });
    return reply.error(error);
  }
  // The client's cancellation (or its leaving) stops the member's request.
  const cancel: Cancel = {};
  const key = flightKey(v, caller, message.id);
  inFlight.set(key, cancel);
  const left = () => {
    if (!ctx.res.writableFinished) cancel.abort?.("the client left");
  };
  ctx.res.once("close", left);
  try {
    const answered = await v.members.request(member, { ...message, params: routed }, caller, {
      inputSchema,
      cancel,
      onStream: () => reply.stream(),
      onMessage: (m) => reply.message(member as string, m),
    });
    reply.answer(answered.answer ?? { jsonrpc: "2.0", id: message.id, result: {} }, {}, answered.text);
  } catch (err) {
    // Cancelled: no answer (as a server gives none); a client still there sees its stream end.
    if (!cancel.aborted) throw err;
    reply.end();
  } finally {
    if (inFlight.get(key) === cancel) inFlight.delete(key);
    ctx.res.off("close", left);
  }
}

/**
 * One page of a merged list: each member's page (its own cursor from the client's), names as the client
 * sees them. A member that fails is left out of the list (`onMemberFailure: open`) or fails it (`closed`).
 */
async function mergedList(
  v: VirtualServer,
  method: ListMethod,
  params: Json,
  caller: Caller,
  reply: Reply,
  /** The answer may go out as a stream when a member's does (a legacy client); a modern one gets JSON, cacheable. */
  streams: boolean,
): Promise<Json> {
  const names = v.members.names;
  let cursors: Record<string, string | null>;
  if (typeof params.cursor === "string") {
    const decoded = decodeCursor(params.cursor, names);
    if (!decoded) throw new SwitchyardError("SWY_UNKNOWN_NAME", { detail: "not a cursor of this server" });
    cursors = decoded;
  } else {
    cursors = Object.fromEntries(names.map((m) => [m, null]));
  }
  await v.current();
  const spec = LISTS[method];
  const pages = await Promise.all(
    Object.entries(cursors).map(async ([member, cursor]): Promise<Page | undefined> => {
      const { cursor: _, ...rest } = params;
      try {
        const answered = await v.members.request(
          member,
          { jsonrpc: "2.0", id: gatewayId(), method, params: cursor === null ? rest : { ...rest, cursor } },
          caller,
          { onStream: () => streams && reply.stream(), onMessage: (m) => reply.message(member, m) },
        );
        const result = isObject(answered.answer?.result) ? answered.answer.result : {};
        const raw = Array.isArray(result[spec.items]) ? (result[spec.items] as Json[]) : [];
        const items: Json[] = [];
        for (const item of raw) {
          if (spec.kind === "tool" || spec.kind === "prompt") {
            const exposed = typeof item.name === "string" ? v.exposed(spec.kind, member, item.name) : undefined;
            if (exposed !== undefined) items.push({ ...item, name: exposed });
          } else if (!(spec.kind === "resource" && v.withheldResource(item.uri))) {
            items.push(item);
          }
        }
        return {
          member,
          items,
          nextCursor: typeof result.nextCursor === "string" ? result.nextCursor : undefined,
          ttlMs: result.ttlMs,
          cacheScope: result.cacheScope,
        };
      } catch (err) {
        if (err instanceof MemberError && v.config.onMemberFailure === "open") return undefined;
        throw err;
      }
    }),
  );
  return mergePages(
    method,
    pages.filter((p): p is Page => p !== undefined),
  );
}
