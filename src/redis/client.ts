import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createClient, createCluster } from "@redis/client";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { withDeadline } from "./deadline.js";
import { PrimaryFollower, type SentinelSetup } from "./sentinel.js";
import { isSentinelUrl, parseClusterNodes, parseSentinelUrl, type Topology } from "./topology.js";

export interface RedisOptions {
  /**
   * `redis://[user:password@]HOST:PORT[/DB]` (`rediss://` for TLS), or Sentinel:
   * `redis+sentinel://[user:password@]HOST:PORT[,HOST:PORT…]/PRIMARY-NAME[/DB]` (`rediss+sentinel://`).
   * Unused when `cluster` is given.
   */
  url: string;
  /** A Redis Cluster, from some of its nodes (`redis://HOST:PORT`, `rediss://…` or `HOST:PORT`). */
  cluster?: string[] | undefined;
  /** The sentinels' own credentials, when they differ from the data nodes'. */
  sentinelAuth?: { username?: string | undefined; password?: string | undefined } | undefined;
  /** Namespace of every key and channel (default `swy:`). */
  prefix?: string;
  /** A command not answered in this time fails (no request waits on a dead Redis). */
  commandTimeoutMs?: number;
  username?: string | undefined;
  password?: string | undefined;
  /** For `rediss://`: PEM contents (not paths). */
  tls?: {
    ca?: string | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    servername?: string | undefined;
  };
}

/** The deployment `options` name: one server, Sentinel or a Cluster. */
export function topologyOf(options: RedisOptions): Topology {
  if (options.cluster !== undefined && options.cluster.length > 0) return parseClusterNodes(options.cluster);
  if (isSentinelUrl(options.url)) return parseSentinelUrl(options.url);
  return { kind: "single", url: options.url };
}

const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 2000);

/**
 * A Redis connection as the gateway needs it, whatever the deployment: commands fail fast while
 * disconnected (no offline queue) and while Redis hangs or a new primary is being elected (a deadline on
 * each reply: `deadline.ts`), reconnection by itself with a capped backoff, and errors that never crash.
 *
 * - Sentinel: a `PrimaryFollower` (`sentinel.ts`) asks the sentinels where the primary is whenever it
 *   loses it, and serves again the moment they name the new one. (node-redis' own Sentinel client was
 *   measured first: it holds commands while it rediscovers, and switched 1.6–6 s after the sentinels
 *   had agreed on the new primary.)
 * - Cluster: node-redis' Cluster client routes each command by its key's slot and follows `MOVED`.
 *   Pub/sub is sharded there (`SSUBSCRIBE`/`SPUBLISH`: a message goes to its channel's shard only, not
 *   to every node), so `subscribe`/`publish` mean the sharded commands; `scanIterator` walks every
 *   primary; `ready` is emitted whenever a node (re)connects (messages may have been missed meanwhile).
 *
 * Each looks like a single client to the code that uses it (the same commands by the same names); the
 * contract tests run every user of Redis against all three.
 */
export function newRedisClient(options: RedisOptions): SingleClient {
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  const topology = topologyOf(options);
  const tls = Object.fromEntries(Object.entries(options.tls ?? {}).filter(([, v]) => v !== undefined));
  const socket = { ...tls, connectTimeout: 2000, reconnectStrategy };
  const auth = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  let client: SingleClient;
  if (topology.kind === "single") {
    client = createClient({
      url: topology.url,
      ...auth,
      disableOfflineQueue: true,
      commandOptions: { timeout: timeoutMs },
      socket,
    });
  } else if (topology.kind === "sentinel") {
    const nodeSocket = { ...socket, ...(topology.tls ? { tls: true as const } : {}) };
    const sentinelAuth = Object.fromEntries(
      Object.entries(options.sentinelAuth ?? {}).filter(([, v]) => v !== undefined),
    );
    const setup: SentinelSetup = {
      name: topology.name,
      sentinels: topology.sentinels,
      sentinelClient: (node) =>
        createClient({ ...sentinelAuth, disableOfflineQueue: true, socket: { ...nodeSocket, ...node } }),
      dataClient: (node) =>
        createClient({
          ...(topology.username !== undefined ? { username: topology.username } : {}),
          ...(topology.password !== undefined ? { password: topology.password } : {}),
          ...auth,
          ...(topology.database !== undefined ? { database: topology.database } : {}),
          disableOfflineQueue: true,
          socket: { ...nodeSocket, ...node, reconnectStrategy: false },
        }),
    };
    const key = JSON.stringify([topology, sentinelAuth, tls]);
    client = asSingleFollowing(new PrimaryFollower(setup, key));
  } else {
    client = retryingConnect(asSingle(newCluster(topology, auth, socket))) as unknown as SingleClient;
  }
  client.on("error", () => {});
  return withDeadline(client, timeoutMs);
}

type SingleClient = ReturnType<typeof createClient>;
type ClusterClient = ReturnType<typeof newCluster>;

function newCluster(
  topology: Extract<Topology, { kind: "cluster" }>,
  auth: { username?: string; password?: string },
  socket: object,
) {
  return createCluster({
    rootNodes: topology.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
    defaults: {
      ...(topology.username !== undefined ? { username: topology.username } : {}),
      ...(topology.password !== undefined ? { password: topology.password } : {}),
      ...auth,
      disableOfflineQueue: true,
      socket: { ...socket, ...(topology.tls ? { tls: true as const } : {}) },
    },
  });
}

/** A Cluster client under a single client's names: sharded pub/sub, a SCAN of every primary, `ready`. */
function asSingle(cluster: ClusterClient): ClusterClient {
  // Connected, and each time a node reconnects after that (what was published meanwhile on its shard was
  // missed).
  cluster.on("node-ready", () => {
    if (cluster.isReady) cluster.emit("ready");
  });
  const connect = () =>
    cluster.connect().then((connected) => {
      cluster.emit("ready");
      return connected;
    });
  const renamed: Record<string, string> = { subscribe: "sSubscribe", unsubscribe: "sUnsubscribe", publish: "sPublish" };
  async function* scanIterator(options: { MATCH?: string; COUNT?: number }) {
    for (const primary of cluster.masters) {
      const node = await cluster.nodeClient(primary);
      yield* node.scanIterator(options);
    }
  }
  return new Proxy(cluster, {
    get(target, key) {
      if (key === "scanIterator") return scanIterator;
      if (key === "connect") return connect;
      const name = typeof key === "string" ? (renamed[key] ?? key) : key;
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** What a command gets while the sentinels name no primary it could reach. */
const noPrimary = () => new Error("The client is offline: no Redis primary known");

/**
 * A follower of the Sentinel primary under a single client's names: its commands go to the primary it
 * holds now (failing at once while it holds none); `READONLY` sends it to the sentinels.
 */
function asSingleFollowing(follower: PrimaryFollower): SingleClient {
  const own = new Set(["connect", "close", "destroy", "subscribe", "isOpen", "isReady"]);
  const offline = () => Promise.reject(noPrimary());
  return new Proxy(follower, {
    get(target, key) {
      if (typeof key !== "string" || own.has(key) || key in EventEmitter.prototype) {
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      }
      const client = target.client;
      if (client === undefined) {
        if (key === "multi") return offlineMulti;
        return key === "scanIterator" ? offlineScan : offline;
      }
      const value = Reflect.get(client, key);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result = Reflect.apply(value, client, args);
        if (result instanceof Promise) {
          result.catch((err: Error) => {
            if (err?.message?.startsWith("READONLY")) target.readOnly();
          });
        }
        return result;
      };
    },
  }) as unknown as SingleClient;
}

/** A transaction with no primary: its commands chain, and `exec` fails. */
function offlineMulti(): unknown {
  const multi: unknown = new Proxy(
    {},
    {
      get: (_, key) => (key === "exec" || key === "execAsPipeline" ? () => Promise.reject(noPrimary()) : () => multi),
    },
  );
  return multi;
}

// biome-ignore lint/correctness/useYield: it fails before yielding anything
async function* offlineScan(): AsyncGenerator<string[]> {
  throw noPrimary();
}

/**
 * Sentinel's and Cluster's `connect` give up when no node answers (a single client keeps trying by
 * itself): this one keeps trying until `close`, so that a gateway started before its Redis connects
 * once Redis is up, as it does with one server.
 */
function retryingConnect<C extends { connect(): Promise<unknown>; close(): Promise<void>; destroy(): unknown }>(
  client: C,
): C {
  let closed = false;
  const connect = async () => {
    for (;;) {
      try {
        return await client.connect();
      } catch (err) {
        if (closed) throw err;
        // Not unref'd: like a single client's reconnection, trying keeps the process alive (a gateway
        // starting while its Redis refuses it waits, it does not exit).
        await new Promise((r) => setTimeout(r, 1000));
        if (closed) throw err;
      }
    }
  };
  return new Proxy(client, {
    get(target, key) {
      if (key === "connect") return connect;
      if (key === "close" || key === "destroy") {
        return () => {
          closed = true;
          return Promise.resolve(Reflect.apply(Reflect.get(target, key), target, [])).catch(() => {});
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export type RedisClient = ReturnType<typeof newRedisClient>;

/** Connect in the background; resolve when connected or after `waitMs`, whichever comes first. */
export async function connectSoon(work: Promise<unknown>, waitMs = 2000): Promise<void> {
  await Promise.race([work.catch(() => {}), new Promise((r) => setTimeout(r, waitMs).unref())]);
}

/** Whether the configuration keeps sessions (and the rest) in Redis: one server, Sentinel or a Cluster. */
export function usesRedis(config: Config): boolean {
  return config.store.url !== "memory" || config.store.cluster !== undefined;
}

/**
 * The Redis connection the configuration names (the password may come from `SWITCHYARD_REDIS_PASSWORD`).
 * TLS files are read here, once: a missing one stops the start with its name.
 */
export function redisOptionsFrom(config: Config): RedisOptions {
  const { url, cluster, sentinel, prefix, username, commandTimeout, tls } = config.store;
  const pem = (field: "ca" | "cert" | "key") => {
    const path = tls[field];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(`store.tls.${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  };
  return {
    url,
    cluster,
    sentinelAuth: sentinel && { username: sentinel.username, password: sentinel.password },
    prefix,
    username,
    password: config.store.password ?? process.env.SWITCHYARD_REDIS_PASSWORD,
    commandTimeoutMs: commandTimeout,
    tls: { ca: pem("ca"), cert: pem("cert"), key: pem("key"), servername: tls.servername },
  };
}
