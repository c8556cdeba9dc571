import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "../gateway/context.js";
import type { GatewayState } from "../gateway/state.js";
import { isModernRequest, modernRefusal, SUPPORTED_MODERN_VERSIONS } from "../protocol/modern-request.js";
import { paramHeaderMismatch } from "../protocol/routing-headers.js";
import { describe, helloOf, initialize, memberCredentials, sessionCaller } from "./client-session.js";
import { openStream } from "./client-stream.js";
import { EVERY_LIST } from "./fan-in.js";
import { askClient, inputAnswered, isInputRequired, MAX_ROUNDS } from "./input-bridge.js";
import { isObject, type Json } from "./json.js";
import type { Cancel } from "./member-exchange.js";
import { gatewayId, MemberError, type Message } from "./member-link.js";
import type { Caller } from "./members.js";
import { isListMethod } from "./merge.js";
import { mergedList } from "./merged-list.js";
import { isParkedState, PendingCall, park, unpark } from "./parked-calls.js";
import { relayedOrigin } from "./relayed-id.js";
import { Reply } from "./reply.js";
import type { VirtualServer } from "./virtual-server.js";
import { openVirtualSession } from "./virtual-token.js";

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
  const down = v.config.onMemberFailure === "closed" ? v.down() : [];
  if (down.length > 0) {
    throw new SwitchyardError("SWY_VIRTUAL_UNAVAILABLE", {
      detail: `down: ${down.join(", ")}`,
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
    await answer(ctx, v, message, caller, reply, modern);
  } catch (err) {
    if (!(err instanceof MemberError)) throw err;
    if (v.config.onMemberFailure === "closed") {
      throw new SwitchyardError("SWY_VIRTUAL_UNAVAILABLE", { detail: `member ${err.member}` });
    }
    reply.error(
      new SwitchyardError("SWY_MEMBER_UNAVAILABLE", { detail: `member ${err.member}`, data: { member: err.member } }),
    );
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
    if (inputAnswered(message)) return;
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

/**
 * A parked-call round for a modern client: the member's answer (under the client's request id), or its
 * next question as `input_required`, the call parked until the client comes back with the answer.
 */
async function untilAnswered(message: Message, call: PendingCall, reply: Reply): Promise<void> {
  const next = await call.next();
  if ("answered" in next) {
    const answer = next.answered.answer ?? { jsonrpc: "2.0", result: {} };
    reply.answer({ ...answer, id: message.id });
    return;
  }
  const { method, params } = next.asks;
  reply.answer({
    jsonrpc: "2.0",
    id: message.id,
    result: {
      resultType: "input_required",
      inputRequests: { input: { method, ...(params === undefined ? {} : { params }) } },
      requestState: park(call, next.asks.id),
    },
  });
}

/** Requests being answered here, by virtual session and request id: a cancellation aborts them. */
const inFlight = new Map<string, Cancel>();

function flightKey(v: VirtualServer, caller: Caller, id: unknown): string {
  return `${v.name}\u0000${caller.session ?? caller.principal}\u0000${JSON.stringify(id)}`;
}

/** A request of a client's: answered by the gateway (ping, lists, discover) or routed to its member. */
async function answer(
  ctx: RequestContext,
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
    let merged = await mergedList(v, method, params, caller, reply, !modern);
    // Only what the token's scopes allow (the virtual server's own policy, names as its clients see them).
    if (ctx.listFilter) merged = ctx.listFilter(merged);
    // A modern list result carries its cache hints; unless every member gave them, it is not to be kept.
    if (modern && merged.ttlMs === undefined) Object.assign(merged, { ttlMs: 0, cacheScope: "private" });
    return answerWith(merged);
  }
  if (modern && isParkedState(params.requestState)) {
    // The client is back with its answer to a parked call's question: to the member, and the call goes on.
    const entry = unpark(params.requestState, caller.principal);
    if (!entry) return unknown("requestState: not a call this gateway holds (parked on another replica, or expired)");
    const responses = isObject(params.inputResponses) ? params.inputResponses : {};
    const answer = { jsonrpc: "2.0", id: entry.memberId, result: responses.input ?? {} };
    await v.members.request(entry.call.member, answer, caller).catch(() => undefined);
    return untilAnswered(message, entry.call, reply);
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
  // A modern client and a member that asks its client on a stream: its requests go as input_required.
  if (modern && (v.members.knownEra(member) ?? (await v.members.eraOf(member, caller))) !== "modern") {
    const cancel: Cancel = {};
    const target = member;
    const call = new PendingCall(target, caller.principal, cancel, (onRequest) =>
      v.members.request(target, { ...message, params: routed }, caller, {
        inputSchema,
        cancel,
        onMessage: (m) => (m.method !== undefined && m.id !== undefined ? onRequest(m) : reply.message(target, m)),
      }),
    );
    return untilAnswered(message, call, reply);
  }
  // The client's cancellation (or its leaving) stops the member's request. A modern client cancels by
  // leaving only: nothing to find the request by.
  const cancel: Cancel = {};
  const key = modern ? undefined : flightKey(v, caller, message.id);
  if (key !== undefined) inFlight.set(key, cancel);
  const left = () => {
    if (!ctx.res.writableFinished) cancel.abort?.("the client left");
  };
  ctx.res.once("close", left);
  try {
    const options = {
      inputSchema,
      cancel,
      onStream: () => reply.stream(),
      onMessage: (m: Message) => reply.message(member as string, m),
      trace: ctx.trace,
    };
    let answered = await v.members.request(member, { ...message, params: routed }, caller, options);
    // A modern member asking a legacy client for input: the gateway asks, and sends the request again.
    let gone: Promise<void> | undefined;
    const asksInput = (a: typeof answered) =>
      (a.text === undefined || a.text.includes('"input_required"')) && isInputRequired(a.answer);
    for (let round = 0; !modern && asksInput(answered) && round < MAX_ROUNDS; round++) {
      gone ??= new Promise<void>((resolve) => ctx.res.once("close", () => resolve()));
      const result = answered.answer?.result as Json;
      const inputResponses = await askClient(
        isObject(result.inputRequests) ? result.inputRequests : {},
        (request) => reply.ask(request),
        gone,
      );
      const retried = {
        ...routed,
        inputResponses,
        ...(result.requestState === undefined ? {} : { requestState: result.requestState }),
      };
      answered = await v.members.request(member, { ...message, id: gatewayId(), params: retried }, caller, options);
      if (answered.answer) answered = { answer: { ...answered.answer, id: message.id }, text: undefined };
    }
    if (answered.text !== undefined) reply.passOn(answered.text, () => answered.answer as Message);
    else reply.answer(answered.answer ?? { jsonrpc: "2.0", id: message.id, result: {} });
  } catch (err) {
    // Cancelled: no answer (as a server gives none); a client still there sees its stream end.
    if (!cancel.aborted) throw err;
    reply.end();
  } finally {
    if (key !== undefined && inFlight.get(key) === cancel) inFlight.delete(key);
    ctx.res.off("close", left);
  }
}
