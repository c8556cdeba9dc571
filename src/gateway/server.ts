import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { TokenExchanger } from "../auth/token-exchange.js";
import { BearerVerifier } from "../auth/verifier.js";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { type ErrorCode, errorBody, SwitchyardError } from "../errors.js";
import { publish } from "../observability/events.js";
import { createMetrics } from "../observability/metrics.js";
import { TrafficWindow } from "../observability/traffic-window.js";
import { isLoopbackAddress } from "../security/origin-host.js";
import { MemorySessionStore } from "../sessions/memory-store.js";
import { ObservedStore } from "../sessions/observed-store.js";
import type { SessionStore } from "../sessions/store.js";
import { localTenancy, Tenancy, type TenancyParts } from "../tenancy/tenancy.js";
import type { Resolver } from "../upstream/connector.js";
import { HealthChecker } from "../upstream/health.js";
import type { UpstreamPool } from "../upstream/pool.js";
import { ALLOW } from "./admit.js";
import { ConfigHistory } from "./config-history.js";
import { InFlight } from "./drain.js";
import { serveConsoleEndpoints, serveOpsEndpoints } from "./endpoints.js";
import { MAX_HEADER_FIELDS } from "./http-checks.js";
import { createHandler, createOwnHandler } from "./pipeline.js";
import { buildSnapshot, replicasOf, retiredPools } from "./snapshot.js";
import type { GatewayState, Runtime } from "./state.js";
import { LocalSlots, type SlotCounter, StreamSlots } from "./streams.js";

export interface Gateway {
  /** Start listening; resolves with the base URL (`http://HOST:PORT`). */
  listen(): Promise<string>;
  /**
   * Apply a new configuration (already validated, and with the same listener and store): the next
   * snapshot is built beside the running one, then swapped in; routes that stay keep their pools.
   */
  reload(next: Config): Promise<void>;
  /**
   * Graceful: unready for `shutdown.unreadyDelay` while still serving, then stop accepting, let in-flight
   * requests finish within `shutdownGrace`, and close the rest.
   */
  close(): Promise<void>;
  readonly state: GatewayState;
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(listen.slice(i + 1)) };
}

/** A whole HTTP response for a connection-level refusal (the request could not even be parsed). */
function rawRefusal(code: ErrorCode, reason: string, extra = ""): string {
  const error = new SwitchyardError(code);
  const body = errorBody(error);
  return `HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`;
}

const CLIENT_ERRORS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: rawRefusal("SWY_REQUEST_TIMEOUT", "Request Timeout"),
  HPE_HEADER_OVERFLOW: rawRefusal("SWY_HEADERS_TOO_LARGE", "Request Header Fields Too Large"),
};
const BAD_HTTP = rawRefusal("SWY_BAD_HTTP", "Bad Request");
/** CONNECT: the gateway is no forward proxy (Node would drop the connection without a word). */
const NO_CONNECT = rawRefusal("SWY_METHOD_NOT_ALLOWED", "Method Not Allowed", `allow: ${ALLOW.mcp}\r\n`);
const noop = () => {};

export function createGateway(
  config: Config,
  options: {
    store?: SessionStore;
    /** DNS for guarded routes (tests inject one). */
    resolve?: Resolver;
    /** Where tenants live (default with the admin API: `admin.dataDir` and memory). */
    tenancy?: TenancyParts;
    /** Where stream limits are counted (default: this process; under `--workers`, the primary). */
    slots?: SlotCounter;
  } = {},
): Gateway {
  const { host, port } = splitHostPort(config.listen);
  const health = new HealthChecker([], config.health);
  const store = new ObservedStore(
    options.store ??
      new MemorySessionStore({ idleTtlMs: config.sessions.idleTtl, maxSessions: config.sessions.maxSessions }),
  );
  const context = { listenHost: host, resolve: options.resolve, health, store };
  const slots = options.slots ?? new LocalSlots();
  const first = buildSnapshot(config, context);
  for (const replica of replicasOf(first)) health.add(replica);
  const tenancy =
    config.admin.token === undefined
      ? undefined
      : new Tenancy(
          options.tenancy ?? localTenancy(config),
          config,
          {
            connectTimeoutMs: config.timeouts.upstreamConnect,
            headersTimeoutMs: config.timeouts.upstreamHeaders,
            policy: first.ssrf,
            resolve: options.resolve,
          },
          slots,
        );
  const metrics = config.metrics.enabled
    ? createMetrics({
        streams: () => state.streams.size,
        cache: () => ({ entries: state.cache?.entries ?? 0, bytes: state.cache?.bytes ?? 0 }),
        sessions: () => store.size(),
        replicas: () =>
          [...state.pools.values()].flatMap((p) =>
            p.replicas.map((r) => ({ route: p.name, replica: r.id, healthy: r.healthy, state: r.state })),
          ),
      })
    : undefined;
  const verifier = new BearerVerifier();
  const runtime: Runtime = {
    store,
    health,
    inFlight: new InFlight(),
    streams: new StreamSlots("streams", config.limits.maxStreams, slots),
    diagnosticStreams: new StreamSlots("diagnostics", 4, slots),
    metrics,
    tenancy,
    verifier,
    exchanger: new TokenExchanger(verifier.issuers),
    history: new ConfigHistory(),
    self: { base: undefined },
    traffic: new TrafficWindow(),
    collect: {},
    phase: { unready: false, draining: false },
  };
  /** The one reference a reload swaps: each request takes the state current when it arrives. */
  let state: GatewayState = { ...first, ...runtime };
  /** Pools a reload replaced, closed once their streams had `shutdownGrace` to end. */
  const retiring = new Set<UpstreamPool>();
  let listening = false;

  const handler = createHandler(() => state);
  const server: Server = createServer(
    {
      highWaterMark: config.limits.streamBufferBytes,
      headersTimeout: config.timeouts.requestHeaders,
      requestTimeout: config.timeouts.requestBody,
      keepAliveTimeout: config.timeouts.keepAlive,
      maxHeaderSize: 16 * 1024,
      // A missing Host is refused by the pipeline (`http-checks.ts`) with a JSON-RPC body, not by Node with none.
      requireHostHeader: false,
      // Enforce the two request timeouts to the second (Node checks every 30 s by default).
      connectionsCheckingInterval: 1000,
    },
    handler,
  );
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way on this socket cannot be replaced; otherwise answer and close.
    const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (socket.writable && !socket.destroyed && !busy && err.code !== "ECONNRESET") {
      socket.end(CLIENT_ERRORS[err.code ?? ""] ?? BAD_HTTP);
    } else {
      socket.destroy();
    }
  });
  // Node keeps this many header fields (and drops the rest); one past the limit is enough to refuse.
  server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
  // An Expect other than 100-continue: Node would answer a bare 417; the pipeline refuses it (`http-checks.ts`).
  server.on("checkExpectation", handler);
  server.on("connect", (_req, socket: Socket) => {
    socket.on("error", noop);
    // Closed for good once written: half-open, a silent client would keep it forever.
    socket.end(NO_CONNECT, () => socket.destroy());
  });
  server.on("error", (err) => publish("fault", { where: "server", code: "SWY_SERVER_ERROR", message: err.message }));

  // Off the public side: the operations listener (`ops.listen`: metrics, readiness in detail, the admin
  // API) and the console's (`console.listen`: the console and the admin API).
  const opsListener = ownListener(
    config.ops.listen,
    "ops",
    createOwnHandler(() => state, serveOpsEndpoints),
  );
  const consoleListener = ownListener(
    config.console.listen,
    "console",
    createOwnHandler(() => state, serveConsoleEndpoints),
  );

  let closing: Promise<void> | undefined;

  return {
    get state() {
      return state;
    },
    async reload(next: Config): Promise<void> {
      const snapshot = buildSnapshot(next, context, state);
      const fresh = [...snapshot.pools.values()].filter((p) => state.pools.get(p.name) !== p);
      // New and rebuilt pools resolve their DNS entries before they take requests.
      await Promise.all(fresh.map((p) => p.start()));
      // New and changed virtual servers ask their members what they serve: colliding names refuse the reload.
      const freshVirtuals = [...snapshot.virtuals.values()].filter((v) => state.virtuals.get(v.name) !== v);
      try {
        await Promise.all(freshVirtuals.map((v) => v.start()));
      } catch (err) {
        // Refused: what the new snapshot built alone is let go (replicas the running pools hold stay).
        await Promise.all(freshVirtuals.map((v) => v.close()));
        for (const pool of fresh) {
          pool.detach();
          void pool.retire(state.pools.get(pool.name));
        }
        throw err;
      }
      const old = state;
      state = { ...snapshot, ...runtime };
      runtime.history.applied();
      health.reconfigure(next.health);
      tenancy?.reconfigure(next);
      const nowHeld = replicasOf(snapshot);
      for (const replica of nowHeld) health.add(replica);
      if (old.discovery !== snapshot.discovery) {
        old.discovery?.stop();
        if (listening) snapshot.discovery?.start();
      }
      for (const v of old.virtuals.values()) if (snapshot.virtuals.get(v.name) !== v) void v.close();
      for (const pool of retiredPools(old, snapshot)) {
        const successor = snapshot.pools.get(pool.name);
        pool.detach();
        for (const replica of pool.leftBehind(successor)) if (!nowHeld.has(replica)) health.remove(replica);
        retiring.add(pool);
        // A removed route's streams (and a rebuilt one's, on replicas it dropped) end after the grace.
        const t = setTimeout(() => {
          retiring.delete(pool);
          void pool.retire(successor);
        }, next.timeouts.shutdownGrace);
        t.unref();
      }
      publish("lifecycle", { event: "reloaded", routes: [...snapshot.pools.keys()] });
    },
    async listen() {
      // DNS-discovered pools start with their replicas (a resolver that fails leaves them empty, retried).
      await Promise.all([...state.pools.values()].map((p) => p.start()));
      // Virtual servers ask their members what they serve: colliding names refuse the start.
      await Promise.all([...state.virtuals.values()].map((v) => v.start())).catch((err: unknown) => {
        throw new ConfigError((err as Error).message);
      });
      const ops = await opsListener?.listen();
      const consoleUrl = await consoleListener?.listen();
      const url = await listenOn(server, host, port);
      runtime.self.base = url;
      health.start();
      state.discovery?.start();
      listening = true;
      const notice = exposureNotice(config, host);
      publish("lifecycle", {
        event: "listening",
        url,
        routes: [...state.pools.keys(), ...state.virtuals.keys()],
        ...(ops ? { ops } : {}),
        ...(config.console.enabled && config.admin.token !== undefined
          ? { console: `${consoleUrl ?? ops ?? url}/console/` }
          : {}),
        ...(notice ? { notice } : {}),
      });
      return url;
    },
    close() {
      closing ??= (async () => {
        // Unready first: load balancers that poll /readyz stop sending while everything is still served.
        const unreadyDelay = state.config.shutdown.unreadyDelay;
        if (unreadyDelay > 0) {
          runtime.phase.unready = true;
          publish("lifecycle", { event: "unready" });
          await new Promise((resolve) => setTimeout(resolve, unreadyDelay));
        }
        runtime.phase.draining = true;
        publish("lifecycle", { event: "draining" });
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.timeouts.shutdownGrace).unref());
        // Requests that will end get until the deadline; open-ended streams are closed after them.
        await Promise.race([state.inFlight.idle(), deadline]);
        server.closeAllConnections();
        await closed;
        await Promise.all([opsListener?.close(), consoleListener?.close()]);
        health.stop();
        state.discovery?.stop();
        await Promise.all([...state.virtuals.values()].map((v) => v.close()));
        await Promise.all([...state.pools.values(), ...retiring].map((p) => p.close()));
        await tenancy?.close();
        await store.close();
        publish("lifecycle", { event: "closed" });
        metrics?.detach();
      })();
      return closing;
    },
  };
}

/** A listener of the gateway's own endpoints (`HOST:PORT`), when one is configured. */
function ownListener(
  listen: string | undefined,
  where: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): { listen(): Promise<string>; close(): Promise<void> } | undefined {
  if (listen === undefined) return undefined;
  const { host, port } = splitHostPort(listen);
  const server = createServer({ requireHostHeader: false }, handler);
  server.on("error", (err) => publish("fault", { where, code: "SWY_SERVER_ERROR", message: err.message }));
  return {
    listen: () => listenOn(server, host, port),
    async close() {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Listen, and the base URL (`http://HOST:PORT`). */
function listenOn(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      resolve(`http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`);
    });
  });
}

/** What the startup log says when a public listener keeps the metrics to itself (and how to get them). */
function exposureNotice(config: Config, host: string): string | undefined {
  if (config.ops.listen !== undefined || isLoopbackAddress(host) || !config.metrics.enabled) return undefined;
  if (config.metrics.token !== undefined) return undefined;
  return "/metrics and the detail of /readyz are not served on this public listener: set ops.listen (an operations address) or metrics.token";
}
