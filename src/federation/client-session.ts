import { randomBytes } from "node:crypto";
import { SwitchyardError } from "../errors.js";
import { upstreamAuthorization } from "../gateway/authorize.js";
import type { RequestContext } from "../gateway/context.js";
import { respondJson } from "../gateway/respond.js";
import type { GatewayState } from "../gateway/state.js";
import { H } from "../protocol/headers.js";
import { META, metaOf } from "../protocol/jsonrpc.js";
import { LATEST_LEGACY_VERSION, LEGACY_VERSIONS } from "../protocol/versions.js";
import type { SessionRecord } from "../sessions/store.js";
import { isObject, type Json } from "./json.js";
import type { Hello, Message } from "./member-link.js";
import type { Caller } from "./members.js";
import { mergeCapabilities, mergeInstructions } from "./merge.js";
import type { VirtualServer } from "./virtual-server.js";
import { openVirtualSession, sealVirtualSession } from "./virtual-token.js";

/**
 * The client's side of a virtual server: what it said of itself, its virtual session (in the store, or
 * a signed id) bound to its principal, and the handshake the gateway answers for the members.
 */

/** The client's hello: from `initialize` (legacy), or from the request's `_meta` (modern). */
export function helloOf(message: Message, modern: boolean): Hello {
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

/** The virtual session a legacy client names, bound to the principal that opened it; else 404 (or 400 without one). */
export async function sessionCaller(ctx: RequestContext, gw: GatewayState, v: VirtualServer): Promise<Caller> {
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
export function memberCredentials(ctx: RequestContext, gw: GatewayState): Caller["authorize"] {
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
export async function describe(v: VirtualServer): Promise<Json> {
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
export async function initialize(
  ctx: RequestContext,
  gw: GatewayState,
  v: VirtualServer,
  message: Message,
): Promise<void> {
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
