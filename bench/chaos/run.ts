/**
 * `npm run chaos`: a bounded soak with faults. Three gateways sharing a redis-server before pools of every
 * era and a mixed client population; faults injected on a schedule; every request's outcome counted and
 * attributed to the fault under way (attribution.ts: anything but success with none is a violation), every
 * invariant violation counted; a table on standard output and JSON in bench/results/.
 *   npm run chaos              quick: each fault once (about a minute)
 *   npm run chaos -- --long    about 10 minutes, the faults in turn
 *   --redis sentinel|cluster|single   the gateways' and HA nodes' Redis (default sentinel: a primary, two
 *                              replicas, three sentinels); the faults of Redis follow it
 *   --only redis               the faults of Redis alone
 *   --out FILE                 where to write the JSON (default bench/results/chaos-<mode>-<time>.json)
 * Exit 1 on any violation.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { DEPLOYMENTS, type DeploymentKind } from "../../test/helpers/redis-topologies.js";
import { describeError } from "./attempt.js";
import { attribute, GRACE_MS, RECOVERY_LIMIT_MS } from "./attribution.js";
import { FAULTS, sampleMemory } from "./faults.js";
import { dispatcher, INIT, LEGACY, rpc, send, sleep } from "./http.js";
import { Ledger } from "./ledger.js";
import { replicaDowns } from "./replica-downs.js";
import { type ChaosReport, formatReport } from "./report.js";
import { sseClient, streamClient } from "./streams.js";
import { ADMIN_TOKEN, startTopology, type Topology } from "./topology.js";
import { type Clients, haClient, legacyClient, modernClient, quietTenant } from "./workloads.js";

const { values } = parseArgs({
  options: {
    long: { type: "boolean", default: false },
    out: { type: "string" },
    redis: { type: "string", default: "sentinel" },
    only: { type: "string" },
  },
});
const redisKind = values.redis as DeploymentKind;
if (!DEPLOYMENTS.includes(redisKind)) throw new Error(`--redis: one of ${DEPLOYMENTS.join(", ")}`);
if (values.only !== undefined && values.only !== "redis") throw new Error("--only: redis");
const faults = FAULTS.filter(
  (f) => (f.deployments ?? DEPLOYMENTS).includes(redisKind) && (values.only === undefined || f.redis),
);
const mode = values.long ? "long" : "quick";
const DURATION_MS = values.long ? 10 * 60_000 : 0; // quick: one round of the faults
/**
 * Between one fault's recovery and the next fault. Its first GRACE_MS still belong to the fault; the rest
 * is calm, when every request must succeed (quick: 1 s of calm after each fault, about 250 requests).
 */
const GAP_MS = values.long ? 12_000 : GRACE_MS + 1000;
const MEMORY_LIMIT = 400 * 1024 * 1024;

async function admin(base: string, method: string, path: string, body?: unknown) {
  const res = await send(`${base}/admin/v1${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`admin ${method} ${path}: ${res.status} ${res.body.toString()}`);
  return JSON.parse(res.body.toString() || "{}") as Record<string, unknown>;
}

/** Two tenants with a server each: `quiet` below its quota, `noisy` with a small one. */
async function tenants(t: Topology): Promise<Record<"quiet" | "noisy", string>> {
  const base = t.bases[0] as string;
  const keys = {} as Record<"quiet" | "noisy", string>;
  for (const [id, quotas] of [
    ["quiet", { rps: 200, burst: 200 }],
    ["noisy", { rps: 10, burst: 10 }],
  ] as const) {
    await admin(base, "POST", "/tenants", { id, allow: ["127.0.0.1/32"], quotas });
    keys[id] = String((await admin(base, "POST", `/tenants/${id}/keys`)).key);
    await admin(base, "POST", `/tenants/${id}/servers`, { name: "s1", url: t.tenantServers[id].current.url });
  }
  return keys;
}

/** One fresh session (or request) per pool through each gateway: is the service normal? */
async function normal(t: Topology): Promise<boolean> {
  const one = async (base: string, path: string, tool: string) => {
    const url = `${base}${path}`;
    const init = await send(url, { body: INIT(0) });
    const sid = init.headers["mcp-session-id"];
    if (init.status !== 200 || typeof sid !== "string") return false;
    const headers = { ...LEGACY, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" };
    const call = await send(url, { headers, body: rpc("tools/call", { name: tool, arguments: {} }, 1) });
    await send(url, { method: "DELETE", headers }).catch(() => {});
    return call.status === 200;
  };
  const modern = async (base: string) => {
    const res = await send(`${base}/modern/mcp`, {
      headers: { ...LEGACY, "mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "server/discover",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "chaos-probe", version: "1" },
            "io.modelcontextprotocol/clientCapabilities": {},
          },
        },
      }),
    });
    return res.status === 200;
  };
  const checks = t.bases.flatMap((b) => [one(b, "/legacy/mcp", "whoami"), one(b, "/ha/mcp", "increment"), modern(b)]);
  return (await Promise.all(checks.map((p) => p.catch(() => false)))).every(Boolean);
}

async function main(): Promise<void> {
  const ledger = new Ledger();
  const t = await startTopology(ledger, redisKind);
  const clients: Clients = { ledger, bases: t.bases, keys: await tenants(t), stopped: false };
  const stopSampling = sampleMemory(t, ledger, MEMORY_LIMIT);
  const loops = [
    ...Array.from({ length: 6 }, () => legacyClient(clients)),
    ...Array.from({ length: 3 }, () => haClient(clients)),
    ...Array.from({ length: 3 }, () => modernClient(clients)),
    ...Array.from({ length: 2 }, () => sseClient(clients)),
    quietTenant(clients),
    streamClient(clients, false),
    streamClient(clients, true),
  ].map((loop) =>
    // A workload loop that throws outside a request is the harness's own failure.
    loop.catch((err: unknown) => ledger.violate("harness-exception", "a workload loop", describeError(err))),
  );
  await sleep(2000); // load before the first fault
  const began = Date.now();
  for (let i = 0; i === 0 || Date.now() - began < DURATION_MS || i % faults.length !== 0; i++) {
    if (!values.long && i >= faults.length) break;
    const fault = faults[i % faults.length] as (typeof faults)[number];
    process.stderr.write(`chaos: ${fault.name}\n`);
    const start = Date.now();
    const startMs = ledger.now();
    await fault.run(t, clients);
    const durationMs = Date.now() - start;
    let recoveryMs: number | undefined;
    while (Date.now() - start < RECOVERY_LIMIT_MS) {
      if (await normal(t)) {
        recoveryMs = Date.now() - start;
        break;
      }
      await sleep(200);
    }
    if (recoveryMs === undefined)
      ledger.violate("not-recovered", fault.name, `not normal ${RECOVERY_LIMIT_MS} ms after`);
    ledger.faults.push({ fault: fault.name, startMs, durationMs, recoveryMs });
    await sleep(GAP_MS);
  }
  clients.stopped = true;
  await Promise.all(loops);
  stopSampling();
  const attributed = attribute(ledger.events, ledger.faults);
  const downs = replicaDowns(t.gateways, ledger.started, attributed.faults);
  await t.stop();
  await dispatcher.close();
  const report: ChaosReport = {
    mode,
    redis: redisKind,
    date: new Date().toISOString(),
    node: process.version,
    durationMs: Date.now() - ledger.started,
    sent: ledger.sent,
    graceMs: GRACE_MS,
    outcomes: attributed.byWorkload,
    outsideFaults: attributed.outsideFaults,
    faults: attributed.faults,
    replicasDown: downs,
    violations: [...ledger.violations, ...attributed.violations],
    peakGatewayRssBytes: ledger.peakRssBytes,
  };
  const out = values.out ?? `bench/results/chaos-${mode}-${redisKind}-${report.date.replace(/[:.]/g, "-")}.json`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatReport(report)}\nJSON: ${out}\n`);
  process.exit(report.violations.length === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
