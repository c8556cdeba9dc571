import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { replicaStates } from "../../test/helpers/discovery.js";
import type { GatewayProc, Replica } from "../../test/helpers/procs.js";
import { rssOf } from "../../test/helpers/procs.js";
import type { DeploymentKind } from "../../test/helpers/redis-topologies.js";
import { metricValue, waitFor } from "../../test/helpers/wait.js";
import { INIT, LEGACY, send, sleep } from "./http.js";
import type { Ledger } from "./ledger.js";
import { LEGACY_NAME, type Proc, type Topology } from "./topology.js";
import { type Clients, tenantBurst } from "./workloads.js";

export interface Fault {
  name: string;
  /** A fault of Redis (`--only redis` runs these alone). */
  redis?: boolean;
  /** The Redis deployments it applies to (all when absent). */
  deployments?: DeploymentKind[];
  /** Inject the fault and undo it (restart, resume); resolves when the fault is over. */
  run(t: Topology, c: Clients): Promise<void>;
}

/** The worker processes of a gateway run with `--workers` (its primary's children). */
function workerPids(primary: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(primary)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

/** Whether the gateway closed the socket (or ended its side) within `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    // At the deadline, what has already arrived is read first: after a stall of this process (2 cores,
    // other tests), its expired timers run before the sockets' pending events. (Once, all 21 sockets were
    // reported kept in a run where nothing else was amiss; this is the likely cause, not a proven one.)
    const timer = setTimeout(() => setImmediate(() => resolve(socket.destroyed || socket.readableEnded)), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function hostPort(base: string): { host: string; port: number } {
  const u = new URL(base);
  return { host: u.hostname, port: Number(u.port) };
}

/** kill -9 a process, and start it again on its address `downMs` later. */
async function killAndRestart(victim: Proc | undefined, downMs: number): Promise<void> {
  await victim?.kill();
  await sleep(downMs);
  await victim?.start();
}

/** Until every gateway's pools of the legacy pods (routes `legacy` and `sse`) satisfy `check`. */
function everyGateway(t: Topology, what: string, check: (states: Record<string, string>) => boolean) {
  return waitFor(
    what,
    async () => {
      const all = await Promise.all(t.bases.flatMap((b) => [replicaStates(b, "legacy"), replicaStates(b, "sse")]));
      return all.every(check);
    },
    { timeoutMs: 20_000 },
  );
}

const addressOf = (p: Proc<Replica>) => new URL(p.current.url).hostname;
/** How a pool names a pod (its /mcp or /sse URL): its address and port. */
const named = (states: Record<string, string>, address: string) =>
  Object.entries(states).find(([url]) => new URL(url).hostname === address)?.[1];

/** Rolling updates so far: each replaces the next legacy pod by a new one at a new address. */
let rolled = 0;

/** Reloads so far (each adds a route, then removes it). */
const reloads = (t: Topology) =>
  Promise.all(t.bases.map((b) => metricValue(`${b}/metrics`, 'switchyard_config_reloads_total{outcome="applied"}')));

export const FAULTS: Fault[] = [
  {
    name: "kill -9 a legacy replica, restart it",
    run: (t) => killAndRestart(t.legacy[0], 1500),
  },
  {
    name: "kill -9 a gateway, restart it",
    run: (t) => killAndRestart(t.gateways[1], 1000),
  },
  {
    name: "kill -9 a worker of a gateway (--workers 2)",
    // The primary restarts it; its open connections end (their clients retry), its sessions live on.
    async run(t) {
      const gateway = t.gateways[2] as Proc<GatewayProc>;
      const before = workerPids(gateway.pid);
      const victim = before[0];
      if (victim === undefined) throw new Error("gateway 3 has no worker");
      process.kill(victim, "SIGKILL");
      await waitFor("the primary to start another worker", async () => {
        const now = workerPids(gateway.pid);
        return now.length === before.length && !now.includes(victim);
      });
    },
  },
  {
    name: "restart Redis (empty)",
    redis: true,
    // Every data node at once (kill -9), started again 1 s later with nothing: the gateways and HA nodes
    // put back what they hold (tenants, HA sessions); the rest is lost and found lost (404).
    run: (t) => t.redis.wipe(),
  },
  {
    name: "Redis primary killed (Sentinel)",
    redis: true,
    deployments: ["sentinel"],
    // kill -9 the primary: the sentinels promote a replica (down after 1 s), then the dead one comes back
    // as a replica.
    run: async (t) => void (await t.redis.killPrimary()),
  },
  {
    name: "Redis failover (SENTINEL FAILOVER)",
    redis: true,
    deployments: ["sentinel"],
    run: async (t) => void (await t.redis.sentinel?.failover()),
  },
  {
    name: "Redis primary killed (Cluster)",
    redis: true,
    deployments: ["cluster"],
    // kill -9 one of three primaries: its replica takes its slots (node timeout 1 s); the others go on.
    run: async (t) => void (await t.redis.killPrimary()),
  },
  {
    name: "pause a replica past the timeouts (SIGSTOP 5 s)",
    async run(t) {
      const victim = t.legacy[1];
      victim?.signal("SIGSTOP");
      await sleep(5000);
      victim?.signal("SIGCONT");
    },
  },
  {
    name: "kill -9 a switchyard/ha node, restart it",
    run: (t) => killAndRestart(t.ha[0], 1500),
  },
  {
    name: "slow-loris clients (headers a byte at a time)",
    async run(t, c) {
      // 20 clients trickle their headers: each must be cut by timeouts.requestHeaders (3 s).
      const sockets = t.bases.flatMap((base) =>
        Array.from({ length: 7 }, () => {
          const s = connect(hostPort(base));
          s.on("error", () => {});
          s.resume(); // read what the gateway answers (its 408), so that its close is seen
          return s;
        }),
      );
      const head = "POST /legacy/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: ";
      let i = 0;
      const drip = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write(head[i % head.length] as string);
        i++;
      }, 300);
      const cut = await Promise.all(sockets.map((s) => closedWithin(s, 8000)));
      clearInterval(drip);
      const kept = cut.filter((x) => !x).length;
      if (kept > 0)
        c.ledger.violate("slow-client-kept", "slow loris", `${kept} of ${sockets.length} still open after 8 s`);
      for (const s of sockets) s.destroy();
    },
  },
  {
    name: "clients that never read (3 MB answers)",
    async run(t, c) {
      // Each asks for a 3 MB answer and reads nothing: the gateway holds at most its stream buffer for
      // it, and drops it after limits.slowClientTimeout (3 s). Memory is sampled meanwhile.
      const init = await send(`${t.bases[0]}/legacy/mcp`, { body: INIT(0) }).catch(() => undefined);
      const sid = init?.headers["mcp-session-id"];
      if (typeof sid !== "string") return;
      const body = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "echo", arguments: { text: "x".repeat(3 * 1024 * 1024) } },
      });
      const sockets = t.bases.flatMap((base) =>
        Array.from({ length: 3 }, () => {
          const s = connect(hostPort(base));
          s.on("error", () => {});
          s.pause();
          const headers = Object.entries({
            ...LEGACY,
            host: "127.0.0.1",
            "mcp-session-id": sid,
            "mcp-protocol-version": "2025-11-25",
            "content-length": String(Buffer.byteLength(body)),
          })
            .map(([k, v]) => `${k}: ${v}`)
            .join("\r\n");
          s.write(`POST /legacy/mcp HTTP/1.1\r\n${headers}\r\n\r\n${body}`);
          return s;
        }),
      );
      await sleep(6000);
      for (const s of sockets) s.destroy();
      void c;
    },
  },
  {
    name: "rolling update through DNS (a new pod joins, the old one drains, then stops)",
    async run(t) {
      const i = rolled % t.legacy.length;
      rolled++;
      const old = t.legacy[i] as Proc<Replica>;
      const address = `127.0.0.${10 + rolled}`;
      const next = await t.legacyPod(`${old.name.split("-")[0]}-v${rolled}`, address);
      const before = t.legacy.map(addressOf);
      await t.dns.set(LEGACY_NAME, [...before, address]);
      await everyGateway(t, "the new pod serving", (s) => named(s, address) === "serving");
      await t.dns.set(LEGACY_NAME, [...before.filter((a) => a !== addressOf(old)), address]);
      await everyGateway(t, "the old pod draining", (s) => named(s, addressOf(old)) === "draining");
      // Its sessions go on through the grace period; then it stops, and they get 404.
      await sleep(1000);
      await old.kill("SIGTERM");
      await everyGateway(t, "the old pod gone", (s) => named(s, addressOf(old)) === undefined);
      t.legacy[i] = next;
    },
  },
  {
    name: "reload the configuration (SIGHUP: a route added, then removed)",
    async run(t) {
      const extra = `  extra:\n    replicas: [${(t.legacy[0] as Proc<Replica>).current.url}]\n`;
      for (const text of [`${t.configText}${extra}`, t.configText]) {
        const before = await reloads(t);
        writeFileSync(t.configFile, text);
        for (const g of t.gateways) g.signal("SIGHUP");
        await waitFor("every gateway to apply it", async () =>
          (await reloads(t)).every((n, i) => n > (before[i] as number)),
        );
      }
    },
  },
  {
    name: "a tenant bursts far above its quota (400 requests)",
    async run(_t, c) {
      const { ok, limited } = await tenantBurst(c, 400);
      if (limited === 0) c.ledger.violate("wrong-tenant", "tenant burst", `no 429 in 400 requests (${ok} passed)`);
    },
  },
];

/** Gateway memory, sampled every second: the peak, and a violation past `limitBytes`. */
export function sampleMemory(t: Topology, ledger: Ledger, limitBytes: number): () => void {
  const timer = setInterval(async () => {
    for (const g of t.gateways) {
      const rss = await rssOf(g.pid).catch(() => 0);
      if (rss > ledger.peakRssBytes) ledger.peakRssBytes = rss;
      if (rss > limitBytes) ledger.violate("memory", g.name, `RSS ${Math.round(rss / 1048576)} MiB`);
    }
  }, 1000);
  return () => clearInterval(timer);
}
