import { channel } from "node:diagnostics_channel";

/**
 * Stages publish what happened here; logs and metrics subscribe. Publishing to a channel nobody listens
 * to costs one branch. Payloads never carry bodies, SSE data, credentials or raw session ids.
 */
export interface EventMap {
  /** One per finished request (or refusal). */
  request: {
    method: string;
    path: string;
    route: string | undefined;
    status: number;
    durationMs: number;
    rpcMethod: string | undefined;
    toolName: string | undefined;
    /** Short hash of the session id. */
    session: string | undefined;
    replica: string | undefined;
    code: string | undefined;
    /** The client went away before the response ended. */
    aborted: boolean;
  };
  replica: { route: string; replica: string; healthy: boolean; reason: string };
  session: {
    route: string;
    session: string;
    replica: string;
    action: "learned" | "forgotten" | "revoked";
    reason: string;
  };
  lifecycle: { event: "listening" | "draining" | "closed"; url?: string; routes?: string[] };
  fault: { where: string; code: string; message: string };
  /** A list-result cache lookup: served from the cache, missed (asked upstream), or not cacheable. */
  cache: { route: string; method: string; result: "hit" | "miss" | "bypass" };
}

export type EventName = keyof EventMap;

const channels = {
  request: channel("switchyard:request"),
  replica: channel("switchyard:replica"),
  session: channel("switchyard:session"),
  lifecycle: channel("switchyard:lifecycle"),
  fault: channel("switchyard:fault"),
  cache: channel("switchyard:cache"),
} satisfies Record<EventName, unknown>;

export function publish<K extends EventName>(name: K, payload: EventMap[K]): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(payload);
}

export function hasSubscribers(name: EventName): boolean {
  return channels[name].hasSubscribers;
}

export function subscribe<K extends EventName>(name: K, listener: (payload: EventMap[K]) => void): () => void {
  const ch = channels[name];
  const fn = (message: unknown) => listener(message as EventMap[K]);
  ch.subscribe(fn);
  return () => ch.unsubscribe(fn);
}
