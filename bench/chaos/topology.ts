import { type DnsServer, startDns, ZONE } from "../../test/helpers/dns.js";
import { type HaNode, startHaNode } from "../../test/helpers/ha.js";
import {
  freePort,
  type GatewayProc,
  type Managed,
  type Replica,
  startDualEra,
  startGateway,
  startReplica,
  writeConfig,
} from "../../test/helpers/procs.js";
import { type DeploymentKind, type RedisDeployment, startDeployment } from "../../test/helpers/redis-topologies.js";
import type { Ledger } from "./ledger.js";

export const ADMIN_TOKEN = "chaos-admin-token-0123456789";

/**
 * One process of the topology, restartable on the same address. A process that exits when nobody
 * killed it is a crash: a violation.
 */
export class Proc<T extends Managed = Managed> {
  current!: T;
  private killing = false;
  /** The output of its runs before the current one (it is restarted on purpose). */
  private readonly earlier: string[] = [];

  constructor(
    readonly name: string,
    private readonly launch: () => Promise<T>,
    private readonly ledger: Ledger,
  ) {}

  async start(): Promise<this> {
    if (this.current) this.earlier.push(...this.current.lines);
    this.current = await this.launch();
    this.killing = false;
    const me = this.current;
    void me.exited.then((code) => {
      if (this.current === me && !this.killing) this.ledger.violate("crash", this.name, `exited (${code})`);
    });
    return this;
  }

  /** kill -9 (or another signal that ends it), on purpose. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.killing = true;
    await this.current.stop(signal);
  }

  signal(signal: NodeJS.Signals): void {
    this.current.child.kill(signal);
  }

  /** Every line it wrote on standard output, over all its runs. */
  get lines(): string[] {
    return [...this.earlier, ...this.current.lines];
  }

  get pid(): number {
    return this.current.child.pid as number;
  }
}

/** The DNS name whose addresses are the legacy pods (routes `legacy` and `sse`). */
export const LEGACY_NAME = `legacy.${ZONE}`;

export interface Topology {
  /** The gateways' and the HA nodes' Redis: Sentinel (the default), a Cluster, or one server. */
  redis: RedisDeployment;
  /** The DNS server the gateways discover the legacy pods in. */
  dns: DnsServer;
  /**
   * Example replicas as pods: distinct loopback addresses on `legacyPort`, found in DNS (`LEGACY_NAME`):
   * route `legacy` (their /mcp) and route `sse` (their /sse).
   */
  legacy: Proc<Replica>[];
  legacyPort: number;
  /** Start one more legacy pod at `address` (on `legacyPort`). */
  legacyPod(name: string, address: string): Promise<Proc<Replica>>;
  /** The gateways' configuration file, and its text (a reload rewrites it). */
  configFile: string;
  configText: string;
  modern: Proc<Replica>[];
  ha: Proc<HaNode>[];
  /** One example replica per tenant, named after it: an answer names whose server it came from. */
  tenantServers: Record<"quiet" | "noisy", Proc<Replica>>;
  gateways: Proc<GatewayProc>[];
  /** Gateway base URLs (fixed for the run). */
  bases: string[];
  stop(): Promise<void>;
}

const at = async () => `127.0.0.1:${await freePort()}`;

/**
 * Three gateways sharing one Redis deployment, before pools of every era: legacy Streamable HTTP and
 * HTTP+SSE (the example server), modern stateless (the dual-era fixture), and `sessions: shared` (the
 * switchyard/ha example); and two tenants with a server each.
 */
export async function startTopology(ledger: Ledger, redisKind: DeploymentKind): Promise<Topology> {
  const redis = await startDeployment(redisKind);
  const replica = async (name: string, kind: "example" | "modern") => {
    const listen = await at();
    const port = listen.split(":")[1] as string;
    return new Proc<Replica>(
      name,
      () => (kind === "example" ? startReplica(name, listen) : startDualEra(name, ["--port", port])),
      ledger,
    ).start();
  };
  const dns = await startDns();
  const legacyPort = await freePort();
  const legacyPod = (name: string, address: string) =>
    new Proc<Replica>(name, () => startReplica(name, `${address}:${legacyPort}`), ledger).start();
  const legacy = await Promise.all([legacyPod("l1", "127.0.0.2"), legacyPod("l2", "127.0.0.3")]);
  await dns.set(LEGACY_NAME, ["127.0.0.2", "127.0.0.3"]);
  const modern = await Promise.all(["m1", "m2"].map((n) => replica(n, "modern")));
  const tenantServers = { quiet: await replica("quiet", "example"), noisy: await replica("noisy", "example") };
  const ha = await Promise.all(
    ["h1", "h2", "h3"].map(async (n) => {
      const port = String(await freePort());
      return new Proc<HaNode>(n, () => startHaNode(n, redis.haArgs, ["--port", port]), ledger).start();
    }),
  );
  const list = (ps: Proc<Replica>[]) => ps.map((p) => p.current.url).join(", ");
  // Health: one failed check marks a replica down (a fault is seen within about a second), and with it the
  // sessions it held (404). The check's timeout is 1 s, not less: on a loaded 2-core machine a replica can
  // be off the CPU for some hundreds of ms with no fault at all, and a 400 ms timeout lost its sessions then.
  const configText = `logLevel: warn
discovery:
  enabled: false
resolver:
  servers: [${dns.address}]
store:
${redis.storeYaml}admin:
  allowHttpServers: true
timeouts:
  requestHeaders: 3s
  requestBody: 5s
  upstreamConnect: 1s
  upstreamHeaders: 2s
  sseMessage: 3s
  shutdownGrace: 1s
limits:
  slowClientTimeout: 3s
health:
  interval: 500ms
  timeout: 1s
  unhealthyThreshold: 1
  cooldown: 1s
tenants:
  quotas:
    rps: 40
    burst: 40
upstreams:
  legacy:
    replicas: ["dns+http://${LEGACY_NAME}:${legacyPort}/mcp"]
    balancer: round-robin
  sse:
    replicas: ["dns+sse+http://${LEGACY_NAME}:${legacyPort}/sse"]
  modern:
    replicas: [${list(modern)}]
  ha:
    sessions: shared
    replicas: [${ha.map((h) => h.current.url).join(", ")}]
`;
  const config = writeConfig(configText);
  // The third gateway runs two workers (`--workers 2`): the fault "kill -9 a worker" strikes one of them.
  const gateways = await Promise.all(
    [1, 2, 3].map(async (n) => {
      const listen = await at();
      const workers = n === 3 ? ["--workers", "2"] : [];
      return new Proc<GatewayProc>(
        `gateway ${n}`,
        () => startGateway(["--config", config, "--listen", listen, "--admin-token", ADMIN_TOKEN, ...workers]),
        ledger,
      ).start();
    }),
  );
  const bases = gateways.map((g) => g.current.base);
  const all: Proc[] = [...gateways, ...legacy, ...modern, ...ha, tenantServers.quiet, tenantServers.noisy];
  return {
    redis,
    dns,
    legacy,
    legacyPort,
    legacyPod,
    configFile: config,
    configText,
    modern,
    ha,
    tenantServers,
    gateways,
    bases,
    async stop() {
      // Stopping is on purpose: no crash reported for it.
      await Promise.all([...all, ...legacy.filter((p) => !all.includes(p))].map((p) => p.kill("SIGTERM")));
      await Promise.all([redis.stop(), dns.stop()]);
    },
  };
}
