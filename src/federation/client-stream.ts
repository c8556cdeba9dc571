import type { RequestContext } from "../gateway/context.js";
import type { GatewayState } from "../gateway/state.js";
import { SseRelay } from "../sse/relay.js";
import { fanIn, type ListFilter } from "./fan-in.js";
import type { Json } from "./json.js";
import type { Message } from "./member-link.js";
import type { Caller } from "./members.js";
import { relayed } from "./reply.js";
import type { VirtualServer } from "./virtual-server.js";

const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/**
 * The client's notification stream: a legacy session's GET stream, or a modern `subscriptions/listen`
 * (acknowledged first, each message tagged with the subscription's id). The members' streams feed it
 * (`fan-in.ts`); heartbeats keep it open between events; it ends when the client leaves.
 */
export function openStream(
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
