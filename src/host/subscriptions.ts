import type { RequestContext } from "../gateway/context.js";
import { SseRelay } from "../sse/relay.js";
import type { HostState } from "./host-state.js";
import type { Message } from "./stdio-child.js";

const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";
const KINDS = { toolsListChanged: "tools", promptsListChanged: "prompts", resourcesListChanged: "resources" } as const;

/**
 * `subscriptions/listen` (2026-07-28), answered by `host` itself: acknowledged, then each `list_changed`
 * a pooled process says (of the kinds asked for) relayed with the subscription's id, heartbeats between;
 * it ends when the client leaves. No process is held for it.
 */
export function listen(ctx: RequestContext, host: HostState, message: Message): void {
  const asked = (message.params?.notifications ?? {}) as Record<string, unknown>;
  const filter = Object.fromEntries(Object.keys(KINDS).map((k) => [k, asked[k] === true])) as Record<
    keyof typeof KINDS,
    boolean
  >;
  const wanted = new Set(
    Object.entries(KINDS)
      .filter(([k]) => filter[k as keyof typeof KINDS])
      .map(([, kind]) => `notifications/${kind}/list_changed`),
  );
  const { res } = ctx;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  const relay = new SseRelay(res, host.options.heartbeatMs);
  const send = (m: Message) => {
    const params = {
      ...(m.params ?? {}),
      _meta: { ...((m.params?._meta as object) ?? {}), [SUBSCRIPTION_ID]: message.id },
    };
    relay.write(Buffer.from(`event: message\ndata: ${JSON.stringify({ ...m, params })}\n\n`));
  };
  send({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { notifications: filter } });
  const listener = (m: Message) => {
    if (wanted.has(m.method as string)) send(m);
  };
  host.pool.listeners.add(listener);
  res.once("close", () => {
    relay.stop();
    host.pool.listeners.delete(listener);
  });
}
