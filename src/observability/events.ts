import { channel } from "node:diagnostics_channel";

/** Where a replica stands in its pool: health-checked before it serves; draining once it left the DNS answer. */
export type ReplicaState = "joining" | "serving" | "draining" | "gone";

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
    /** The tenant, for a tenant's server. */
    tenant: string | undefined;
    /** Milliseconds from sending upstream to the upstream's response headers. */
    upstreamMs: number | undefined;
    replica: string | undefined;
    code: string | undefined;
    /** The client went away before the response ended. */
    aborted: boolean;
    /** The request's trace id, when it was traced and sampled. */
    traceId?: string | undefined;
  };
  replica: { route: string; replica: string; healthy: boolean; reason: string };
  /** A replica joined a pool (discovered), began serving, is draining (left the DNS answer) or is gone. */
  membership: { route: string; replica: string; state: ReplicaState; reason: string };
  /** One DNS resolution of a pool's entry: `changed` when its outcome differs from the last one. */
  resolution: {
    route: string;
    name: string;
    outcome: "ok" | "gone" | "failed";
    /** Replicas the entry names afterwards (the last known set when the resolution failed). */
    replicas: number;
    why?: string;
    changed: boolean;
  };
  /**
   * A DNS entry names a new set of replicas (URL and host name each), resolved here or adopted from
   * another worker: for `--workers`, which share it. Not logged (the `resolution` and `membership`
   * events say what changed).
   */
  answer: { route: string; name: string; replicas: Array<[url: string, host: string]> };
  session: {
    route: string;
    session: string;
    replica: string;
    action: "learned" | "forgotten" | "revoked";
    reason: string;
  };
  lifecycle: {
    event: "listening" | "reloaded" | "unready" | "draining" | "closed";
    url?: string;
    /** The operations listener's base URL (`ops.listen`). */
    ops?: string;
    /** The console's URL, when it is served (on its own listener with `console.listen`). */
    console?: string;
    routes?: string[];
    /** Said once at start: what this listener does not serve, and how to get it. */
    notice?: string;
  };
  fault: { where: string; code: string; message: string };
  /** A reload of the configuration (SIGHUP or `--watch`): applied, or refused with each error named. */
  config: { outcome: "applied" | "refused"; trigger: "signal" | "file"; errors: string[] };
  /** A list-result cache lookup: served from the cache, missed (asked upstream), or not cacheable. */
  cache: { route: string; method: string; result: "hit" | "miss" | "bypass" };
  /** An SSRF refusal: a tenant's server URL refused at registration, or an address refused at connect time. */
  ssrf: { stage: "registration" | "connect"; route: string | undefined };
  /** A request refused by a tenant's quota. */
  quota: { quota: string };
  /** One session-store operation: how long it took and whether it failed. */
  store: { op: string; durationMs: number; ok: boolean };
  /**
   * `switchyard host`: a stdio server's process started, answered its first request (`ready`, with its
   * start-up time), wrote a line to stderr (line- and rate-limited; `dropped` lines said once), or exited
   * (`crashed` when `host` did not end it).
   */
  process: {
    event: "started" | "ready" | "stderr" | "exited";
    /** The process's pid. */
    child: number;
    /** What the process serves: one session (legacy or HTTP+SSE), the modern pool, or the spare. */
    role: "session" | "pool" | "spare";
    /** Short hash of its session's id. */
    session?: string | undefined;
    startupMs?: number;
    line?: string;
    dropped?: number;
    code?: number | null;
    signal?: string | null;
    crashed?: boolean;
  };
}

export type EventName = keyof EventMap;

const channels = {
  request: channel("switchyard:request"),
  replica: channel("switchyard:replica"),
  membership: channel("switchyard:membership"),
  resolution: channel("switchyard:resolution"),
  answer: channel("switchyard:answer"),
  session: channel("switchyard:session"),
  lifecycle: channel("switchyard:lifecycle"),
  fault: channel("switchyard:fault"),
  config: channel("switchyard:config"),
  cache: channel("switchyard:cache"),
  ssrf: channel("switchyard:ssrf"),
  quota: channel("switchyard:quota"),
  store: channel("switchyard:store"),
  process: channel("switchyard:process"),
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
