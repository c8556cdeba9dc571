import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { promisify } from "node:util";
import { findBinary } from "../../bench/lib/system.js";
import { newRedisClient, type RedisClient, type RedisOptions } from "../../src/redis/client.js";
import { freePort, type Managed, sleep, spawnManaged } from "./procs.js";
import { startRedis } from "./redis.js";
import type { TestPki } from "./tls.js";

const run = promisify(execFile);

/** One `redis-server` (or sentinel) process of a topology, on a free loopback port. */
export interface RedisNodeProc {
  port: number;
  proc: Managed;
  /** kill -9. */
  kill(): Promise<void>;
  /** Start it again on the same port, with the same configuration file (it rejoins as it can). */
  restart(): Promise<void>;
}

function binaries(): { server: string; cli: string } {
  const server = findBinary("redis-server");
  const cli = findBinary("redis-cli");
  if (!server || !cli) throw new Error("redis-server is missing: `bash scripts/test-setup.sh` installs it");
  return { server, cli };
}

/**
 * TLS (the server's certificate checked against the test CA) and ACL credentials on every node: an ACL
 * user on the data nodes (the default user off), a password of their own on the sentinels.
 */
export interface Secure {
  pki: TestPki;
  user: string;
  password: string;
  sentinelPassword: string;
}

type Cli = (port: number, ...args: string[]) => Promise<string>;

/** `redis-cli -p PORT ARGS…`, its output trimmed; with `secure`, over TLS as the data nodes' user or to a sentinel. */
function cliFor(secure?: Secure, sentinel = false): Cli {
  const extra = secure
    ? [
        "--tls",
        "--cacert",
        secure.pki.ca,
        ...(sentinel ? ["-a", secure.sentinelPassword] : ["--user", secure.user, "--pass", secure.password]),
        "--no-auth-warning",
      ]
    : [];
  return async (port, ...args) => {
    const { stdout } = await run(binaries().cli, ["-h", "127.0.0.1", "-p", String(port), ...extra, ...args], {
      timeout: 30_000,
    });
    return stdout.trim();
  };
}

export const redisCli = cliFor();

/** What a data node (or, `sentinel`, a sentinel) needs for TLS and ACL. */
function secureLines(secure: Secure | undefined, port: number, sentinel: boolean): string[] {
  if (!secure) return [`port ${port}`];
  return [
    "port 0",
    `tls-port ${port}`,
    `tls-cert-file ${secure.pki.serverCert}`,
    `tls-key-file ${secure.pki.serverKey}`,
    `tls-ca-cert-file ${secure.pki.ca}`,
    "tls-auth-clients no",
    "tls-replication yes",
    ...(sentinel
      ? [`requirepass ${secure.sentinelPassword}`]
      : [
          "user default off",
          `user ${secure.user} on >${secure.password} ~* &* +@all`,
          `masteruser ${secure.user}`,
          `masterauth ${secure.password}`,
        ]),
  ];
}

async function startNode(dir: string, port: number, lines: string[], ready: RegExp, sentinel = false, secure?: Secure) {
  const file = join(dir, `${sentinel ? "sentinel" : "redis"}-${port}.conf`);
  writeFileSync(
    file,
    `${[
      ...secureLines(secure, port, sentinel),
      "bind 127.0.0.1",
      "protected-mode no",
      `dir ${dir}`,
      // A replica (re)joining is sent the data at once, not after the default 5 s wait for others to join
      // with it: the faults end sooner; what the gateways see of them is the same.
      ...(sentinel ? [] : ['save ""', "appendonly no", `dbfilename dump-${port}.rdb`, "repl-diskless-sync-delay 0"]),
      ...lines,
    ].join("\n")}\n`,
  );
  const launch = async () => {
    const proc = spawnManaged(binaries().server, [file, ...(sentinel ? ["--sentinel"] : [])]);
    await proc.waitForLine((l) => ready.test(l));
    return proc;
  };
  const node: RedisNodeProc = {
    port,
    proc: await launch(),
    async kill() {
      await node.proc.stop("SIGKILL");
    },
    async restart() {
      node.proc = await launch();
    },
  };
  return node;
}

function first<T>(items: T[]): T {
  if (items.length === 0) throw new Error("none left");
  return items[0] as T;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A primary, its replicas and three sentinels, all real processes on loopback. */
export interface SentinelSet {
  /** `redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/NAME`: what `store.url` takes. */
  url: string;
  name: string;
  sentinels: RedisNodeProc[];
  /** Every data node (the first was the primary at the start). */
  nodes: RedisNodeProc[];
  /** The port the sentinels name as primary now. */
  primaryPort(): Promise<number>;
  /** kill -9 the current primary; resolves with its port once the sentinels have promoted another. */
  killPrimary(): Promise<{ killed: number; promoted: number }>;
  /** `SENTINEL FAILOVER`: a graceful switch; resolves once every sentinel names the new primary. */
  failover(): Promise<{ from: number; to: number }>;
  /** Until every sentinel names one primary and every live data node replicates it. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Sentinel for real: a primary with `replicas` replicas and three sentinels (quorum 2) that declare a
 * primary down after `downAfterMs` without an answer.
 */
export async function startSentinelSet(
  options: { replicas?: number; downAfterMs?: number; secure?: Secure } = {},
): Promise<SentinelSet> {
  const { secure } = options;
  const cli = cliFor(secure);
  const sentinelCli = cliFor(secure, true);
  const name = "swymaster";
  const dir = mkdtempSync(join(tmpdir(), "swy-sentinel-"));
  const downAfter = options.downAfterMs ?? 1000;
  const nodes: RedisNodeProc[] = [];
  const sentinels: RedisNodeProc[] = [];
  try {
    const primary = await startNode(dir, await freePort(), [], /Ready to accept connections/, false, secure);
    nodes.push(primary);
    for (let i = 0; i < (options.replicas ?? 2); i++) {
      nodes.push(
        await startNode(
          dir,
          await freePort(),
          [`replicaof 127.0.0.1 ${primary.port}`],
          /Ready to accept connections/,
          false,
          secure,
        ),
      );
    }
    for (const n of nodes.slice(1)) {
      await until("a replica in sync", async () =>
        (await cli(n.port, "INFO", "replication")).includes("master_link_status:up"),
      );
    }
    for (let i = 0; i < 3; i++) {
      sentinels.push(
        await startNode(
          dir,
          await freePort(),
          [
            `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
            `sentinel down-after-milliseconds ${name} ${downAfter}`,
            // Also how long the sentinels wait before trying again when an election failed (votes split on a
            // loaded machine): 10 s here once made an outage of 15 s.
            `sentinel failover-timeout ${name} 3000`,
            `sentinel parallel-syncs ${name} 2`,
            ...(secure
              ? [
                  `sentinel auth-user ${name} ${secure.user}`,
                  `sentinel auth-pass ${name} ${secure.password}`,
                  `sentinel sentinel-pass ${secure.sentinelPassword}`,
                ]
              : []),
          ],
          /Sentinel ID is|monitor master/,
          true,
          secure,
        ),
      );
    }
    // Every sentinel has found the replicas and the other sentinels.
    await until("the sentinels to know each other and the replicas", async () => {
      for (const s of sentinels) {
        const info = await sentinelCli(s.port, "SENTINEL", "MASTER", name);
        const field = (k: string) => Number(info.split("\n")[info.split("\n").indexOf(k) + 1]);
        if (field("num-slaves") < nodes.length - 1 || field("num-other-sentinels") < 2) return false;
      }
      return true;
    });
  } catch (err) {
    await Promise.all([...nodes, ...sentinels].map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const primaryFrom = async (port: number) =>
    Number((await sentinelCli(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)).split("\n")[1]);
  const primaryPort = async () => primaryFrom(first(sentinels).port);
  const everySentinelNames = async (changedFrom: number) => {
    let to = 0;
    await until("every sentinel to name a new primary", async () => {
      const seen = await Promise.all(
        sentinels.filter((s) => s.proc.child.exitCode === null).map((s) => primaryFrom(s.port)),
      );
      to = seen[0] ?? 0;
      if (!seen.every((p) => p === to) || to === changedFrom) return false;
      return (await cli(to, "ROLE")).startsWith("master");
    });
    return to;
  };
  const linked = async (port: number) => (await cli(port, "INFO", "replication")).includes("master_link_status:up");
  const settled = () =>
    until(
      "the sentinels to agree and every replica to follow the primary",
      async () => {
        const seen = await Promise.all(sentinels.map((s) => primaryFrom(s.port)));
        const primary = seen[0];
        if (!seen.every((p) => p === primary)) return false;
        if (!(await cli(primary as number, "ROLE")).startsWith("master")) return false;
        const replicas = nodes.filter((n) => n.port !== primary && n.proc.child.exitCode === null);
        return (await Promise.all(replicas.map((n) => linked(n.port)))).every(Boolean);
      },
      60_000,
    );
  return {
    settled,
    url: `${secure ? `rediss+sentinel://${secure.user}:${secure.password}@` : "redis+sentinel://"}${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${name}`,
    name,
    sentinels,
    nodes,
    primaryPort,
    async killPrimary() {
      const killed = await primaryPort();
      await nodes.find((n) => n.port === killed)?.kill();
      return { killed, promoted: await everySentinelNames(killed) };
    },
    async failover() {
      const from = await primaryPort();
      await sentinelCli(first(sentinels).port, "SENTINEL", "FAILOVER", name);
      const to = await everySentinelNames(from);
      await settled();
      return { from, to };
    },
    async stop() {
      await Promise.all([...sentinels, ...nodes].map((n) => n.proc.stop("SIGKILL")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis Cluster: `primaries` primaries with `replicasEach` replicas each, created by `redis-cli --cluster`. */
export interface ClusterSet {
  /** The nodes as `store.cluster` takes them (`redis://127.0.0.1:PORT`). */
  urls: string[];
  nodes: RedisNodeProc[];
  /** The ports of the primaries now. */
  primaryPorts(): Promise<number[]>;
  /** kill -9 one primary (the first, or the one holding `key`); resolves once a replica took its slots. */
  killPrimary(key?: string): Promise<{ killed: number; promoted: number }>;
  /** Until every node sees the cluster ok and every replica follows its primary. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisCluster(
  options: { primaries?: number; replicasEach?: number; nodeTimeoutMs?: number; secure?: Secure } = {},
): Promise<ClusterSet> {
  const { secure } = options;
  const cli = cliFor(secure);
  const primaries = options.primaries ?? 3;
  const replicasEach = options.replicasEach ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "swy-cluster-"));
  const nodes: RedisNodeProc[] = [];
  try {
    for (let i = 0; i < primaries * (1 + replicasEach); i++) {
      const port = await freePort();
      nodes.push(
        await startNode(
          dir,
          port,
          [
            "cluster-enabled yes",
            `cluster-config-file nodes-${port}.conf`,
            `cluster-port ${await freePort()}`,
            `cluster-node-timeout ${options.nodeTimeoutMs ?? 1000}`,
            // A replica takes over however long it was cut off (its data is all the cluster has).
            "cluster-replica-validity-factor 0",
            ...(secure ? ["tls-cluster yes"] : []),
          ],
          /Ready to accept connections/,
          false,
          secure,
        ),
      );
    }
    await run(
      binaries().cli,
      [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        String(replicasEach),
        "--cluster-yes",
        ...(secure
          ? ["--tls", "--cacert", secure.pki.ca, "--user", secure.user, "--pass", secure.password, "--no-auth-warning"]
          : []),
      ],
      { timeout: 60_000 },
    );
    await until("every node to see the cluster ok", async () => {
      for (const n of nodes) {
        if (!(await cli(n.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
      }
      return true;
    });
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const alive = () => nodes.filter((n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null);
  /** Live primaries, each with the slot ranges it serves (`CLUSTER NODES`). */
  const shards = async () => {
    const out = await cli(first(alive()).port, "CLUSTER", "NODES");
    return out
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f[2]?.includes("master") && !f[2].includes("fail"))
      .map((f) => ({
        port: Number(/:(\d+)/.exec(f[1] ?? "")?.[1]),
        ranges: f.slice(8).map((r) => r.split("-").map(Number)),
      }));
  };
  const primaryPorts = async () => (await shards()).map((s) => s.port);
  const settled = () =>
    until(
      "every node to see the cluster ok and every replica to follow its primary",
      async () => {
        const primaries = new Set(await primaryPorts());
        for (const n of alive()) {
          if (!(await cli(n.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
          if (primaries.has(n.port)) continue;
          if (!(await cli(n.port, "INFO", "replication")).includes("master_link_status:up")) return false;
        }
        return true;
      },
      60_000,
    );
  return {
    settled,
    urls: nodes.map((n) =>
      secure ? `rediss://${secure.user}:${secure.password}@127.0.0.1:${n.port}` : `redis://127.0.0.1:${n.port}`,
    ),
    nodes,
    primaryPorts,
    async killPrimary(key) {
      let killed = first(await primaryPorts());
      if (key !== undefined) {
        const slot = Number(await cli(first(alive()).port, "CLUSTER", "KEYSLOT", key));
        const holder = (await shards()).find((s) => s.ranges.some(([a = -1, b = a]) => a <= slot && slot <= b));
        killed = holder?.port ?? killed;
      }
      const before = new Set(await primaryPorts());
      await nodes.find((n) => n.port === killed)?.kill();
      let promoted = 0;
      await until("a replica to take the dead primary's slots", async () => {
        const now = await primaryPorts();
        const fresh = now.filter((p) => !before.has(p));
        if (fresh.length === 0) return false;
        for (const n of alive()) {
          if (!(await cli(n.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
        }
        promoted = first(fresh);
        return true;
      });
      return { killed, promoted };
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.proc.stop("SIGKILL")));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Which Redis deployments the contract suites run against. */
export const DEPLOYMENTS = ["single", "sentinel", "cluster"] as const;
export type DeploymentKind = (typeof DEPLOYMENTS)[number];

/** A Redis deployment of any kind, as the product's options name it, with its processes to break. */
export interface RedisDeployment {
  kind: DeploymentKind;
  /** What `newRedisClient` and every component take (`url`, or `cluster`). */
  options: RedisOptions;
  /** The gateway's `store:` section (indented by two spaces). */
  storeYaml: string;
  /** The `examples/ha-server` arguments that name it. */
  haArgs: string[];
  /** A client of the product's own (it speaks to every kind), connected; closed with the deployment. */
  client(): Promise<RedisClient>;
  /** Run `close` when the deployment stops (before its processes do). */
  closeLater(close: () => Promise<void>): void;
  /**
   * kill -9 the primary (Sentinel: the one the sentinels name; Cluster: the first); resolves once another
   * has taken over, then starts the dead one again (it rejoins as a replica).
   */
  killPrimary(): Promise<{ killed: number; promoted: number; takeoverMs: number }>;
  /** Every data node killed at once and started again empty: Redis lost everything. */
  wipe(): Promise<void>;
  sentinel: SentinelSet | undefined;
  cluster: ClusterSet | undefined;
  stop(): Promise<void>;
}

/** `secure`: TLS and ACL credentials on every node (Sentinel and Cluster). */
export async function startDeployment(kind: DeploymentKind, secure?: Secure): Promise<RedisDeployment> {
  const clients: RedisClient[] = [];
  const closers: Array<() => Promise<void>> = [];
  const single = kind === "single" ? await startRedis() : undefined;
  const sentinel = kind === "sentinel" ? await startSentinelSet({ secure }) : undefined;
  const cluster = kind === "cluster" ? await startRedisCluster({ secure }) : undefined;
  const nodes = sentinel?.nodes ?? cluster?.nodes ?? [];
  const options: RedisOptions = {
    ...(single ? { url: single.url } : sentinel ? { url: sentinel.url } : { url: "", cluster: cluster?.urls }),
    ...(secure
      ? { tls: { ca: readFileSync(secure.pki.ca, "utf8") }, sentinelAuth: { password: secure.sentinelPassword } }
      : {}),
  };
  const secureYaml = secure
    ? `  tls:\n    ca: ${secure.pki.ca}\n${sentinel ? `  sentinel:\n    password: ${secure.sentinelPassword}\n` : ""}`
    : "";
  const restartEmpty = async (ports: number[]) => {
    await Promise.all(nodes.filter((n) => ports.includes(n.port)).map((n) => n.restart()));
  };
  return {
    kind,
    options,
    storeYaml: `${cluster ? `  cluster: [${cluster.urls.join(", ")}]\n` : `  url: ${options.url}\n`}${secureYaml}`,
    haArgs: cluster ? ["--redis-cluster", cluster.urls.join(",")] : ["--redis", options.url],
    sentinel,
    cluster,
    async client() {
      const client = newRedisClient(options);
      await client.connect();
      clients.push(client);
      return client;
    },
    async killPrimary() {
      const started = Date.now();
      const set = sentinel ?? cluster;
      if (!set) throw new Error("one server has no replica to promote");
      const { killed, promoted } = await set.killPrimary();
      const takeoverMs = Date.now() - started;
      await restartEmpty([killed]);
      await set.settled();
      return { killed, promoted, takeoverMs };
    },
    async wipe() {
      if (single) {
        await single.stop("SIGKILL");
        await sleep(1000);
        await single.restart();
        return;
      }
      await Promise.all(nodes.map((n) => n.kill()));
      await sleep(1000);
      await restartEmpty(nodes.map((n) => n.port));
      await (sentinel ?? cluster)?.settled();
    },
    closeLater(close) {
      closers.push(close);
    },
    async stop() {
      for (const close of closers) await close().catch(() => {});
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await (single?.stop() ?? sentinel?.stop() ?? cluster?.stop());
    },
  };
}

/** In a `describe`: a deployment started before its tests and stopped after them. */
export function useDeployment(kind: DeploymentKind): () => RedisDeployment {
  let deployment: RedisDeployment | undefined;
  before(async () => {
    deployment = await startDeployment(kind);
  });
  after(async () => {
    await deployment?.stop();
  });
  return () => {
    if (!deployment) throw new Error("no deployment before the tests started");
    return deployment;
  };
}
