import { randomUUID } from "node:crypto";
import { SwitchyardError } from "../errors.js";
import { Reply } from "../federation/reply.js";
import type { RequestContext } from "../gateway/context.js";
import { respondError } from "../gateway/respond.js";
import { acceptance, H, isValidSessionId } from "../protocol/headers.js";
import type { RpcMessage } from "../protocol/jsonrpc.js";
import { isModernRequest, modernRefusal } from "../protocol/modern-request.js";
import { LEGACY_VERSIONS } from "../protocol/versions.js";
import type { HostState } from "./host-state.js";
import { HostSession } from "./session.js";
import type { Message } from "./stdio-child.js";
import { listen } from "./subscriptions.js";

/** A session's id, from its header: undefined when absent, 400 when malformed. */
function sessionIdOf(ctx: RequestContext): string | undefined {
  const sid = ctx.req.headers[H.sessionId];
  if (sid === undefined) return undefined;
  if (typeof sid !== "string" || !isValidSessionId(sid)) throw new SwitchyardError("SWY_BAD_SESSION_ID");
  return sid;
}

function sessionOf(host: HostState, sid: string): HostSession {
  const session = host.sessions.get(sid);
  if (!session?.open) throw new SwitchyardError("SWY_SESSION_NOT_FOUND");
  return session;
}

/** A session's requests name a revision of the legacy era in `MCP-Protocol-Version` (or none). */
function checkVersionHeader(ctx: RequestContext): void {
  const version = ctx.req.headers[H.protocolVersion];
  if (version !== undefined && !(LEGACY_VERSIONS as readonly string[]).includes(String(version))) {
    throw new SwitchyardError("SWY_UNSUPPORTED_VERSION", { detail: String(version) });
  }
}

/** GET `/mcp`: a session's stream for what the process says unasked. */
export function openSessionStream(ctx: RequestContext, host: HostState): void {
  if (!acceptance(ctx.req.headers.accept).sse) throw new SwitchyardError("SWY_NOT_ACCEPTABLE_SSE");
  const sid = sessionIdOf(ctx);
  if (sid === undefined) throw new SwitchyardError("SWY_SESSION_REQUIRED");
  checkVersionHeader(ctx);
  if (!sessionOf(host, sid).attach(ctx.res)) throw new SwitchyardError("SWY_HOST_STREAM_OPEN");
}

/** DELETE `/mcp`: the session ends, and its process with it. */
export async function endSession(ctx: RequestContext, host: HostState): Promise<void> {
  const sid = sessionIdOf(ctx);
  if (sid === undefined) throw new SwitchyardError("SWY_SESSION_REQUIRED");
  await sessionOf(host, sid).end();
  ctx.res.writeHead(200).end();
}

/**
 * POST `/mcp`: in a session, to its process; `initialize`, to a process of its own (a new session); a
 * request of the modern era, to the pool (or answered here: `server/discover`, `subscriptions/listen`).
 */
export async function post(
  ctx: RequestContext,
  host: HostState,
  messages: Message[],
  rpc: RpcMessage[],
): Promise<void> {
  const sid = sessionIdOf(ctx);
  const first = rpc[0] as RpcMessage;
  const requests = rpc.filter((m) => m.kind === "request").length;
  if (requests > 1) throw new SwitchyardError("SWY_INVALID_REQUEST", { detail: "no batch of requests here" });
  const sse = acceptance(ctx.req.headers.accept).sse;
  if (sid !== undefined) {
    checkVersionHeader(ctx);
    const session = sessionOf(host, sid);
    const i = rpc.findIndex((m) => m.kind === "request");
    for (const [j, m] of messages.entries()) if (j !== i) session.deliver(m);
    if (i < 0) {
      ctx.res.writeHead(202).end();
      return;
    }
    ask(ctx, session, messages[i] as Message, sse);
    return;
  }
  if (messages.length !== 1) throw new SwitchyardError("SWY_SESSION_REQUIRED");
  const message = messages[0] as Message;
  if (isModernRequest(first, ctx.req.headers)) {
    const refusal = modernRefusal(first, ctx.req.headers);
    if (refusal) throw refusal;
    return modern(ctx, host, message);
  }
  if (first.method !== "initialize" || first.kind !== "request") throw new SwitchyardError("SWY_SESSION_REQUIRED");
  const id = randomUUID();
  const child = host.processes.take("session", id);
  if (child === undefined) throw new SwitchyardError("SWY_HOST_BUSY", { headers: { "retry-after": "1" } });
  const session = new HostSession(id, child, host.options.heartbeatMs, (s) => host.sessions.delete(s.id));
  host.sessions.set(id, session);
  ctx.res.setHeader("mcp-session-id", id);
  // The process has `--start-timeout` to answer its first request, or it is ended (the client is told why,
  // not that the process ended: its answer is given up first).
  const reply = ask(ctx, session, message, sse);
  const timer = setTimeout(() => {
    session.abandon(message.id, reply);
    respondError(ctx, new SwitchyardError("SWY_HOST_START_TIMEOUT"));
    void session.end();
  }, host.options.startTimeoutMs);
  ctx.res.once("close", () => clearTimeout(timer));
}

/** A client's request in its session: answered through its own reply, forgotten if the client leaves first. */
function ask(ctx: RequestContext, session: HostSession, message: Message, sse: boolean): Reply {
  const reply = new Reply(ctx, false);
  ctx.res.once("close", () => session.abandon(message.id, reply));
  session.request(message, reply, sse);
  return reply;
}

/** A request of 2026-07-28: answered by the pool, or here. */
async function modern(ctx: RequestContext, host: HostState, message: Message): Promise<void> {
  const reply = new Reply(ctx, true);
  if (message.id === undefined) {
    // Notifications have nobody to reach: the pool's processes are nobody's.
    ctx.res.writeHead(202).end();
    return;
  }
  if (message.method === "server/discover") {
    const described = host.pool.discover();
    if (described) return reply.answer({ jsonrpc: "2.0", id: message.id, result: described });
  }
  if (message.method === "subscriptions/listen") return listen(ctx, host, message);
  const leaving = new Promise<void>((resolve) => ctx.res.once("close", () => resolve()));
  await host.pool.request(message, reply, leaving);
}
