import type { DnsServer } from "./dns.js";
import { type ExampleReplica, startAll, startOnFreePort, startReplica, writeConfig } from "./procs.js";

/**
 * A configuration file: route `svc` served by `replicas` (DNS entries among them), resolved through the
 * test's `dns`, with fast health checks. `top` adds top-level YAML, `resolver` keys under `resolver`,
 * `route` lines under the route.
 */
export function dnsConfig(
  dns: DnsServer,
  replicas: string[],
  more: { top?: string; resolver?: string; route?: string } = {},
): string {
  return writeConfig(`logLevel: warn
${more.top ?? ""}resolver:
  servers: [${dns.address}]
${more.resolver ?? ""}health:
  interval: 300ms
  unhealthyThreshold: 1
upstreams:
  svc:
    replicas: [${replicas.map((r) => JSON.stringify(r)).join(", ")}]
${more.route ?? ""}`);
}

/**
 * Example replicas on distinct loopback addresses and one port, as pods behind a headless Service:
 * `addresses[i]` gets the replica named `names[i]`.
 */
export async function startPods(
  names: string[],
  addresses: string[],
): Promise<{ port: number; pods: ExampleReplica[] }> {
  return startOnFreePort(async (port) => ({
    port,
    pods: await startAll(names.map((name, i) => startReplica(name, `${addresses[i]}:${port}`))),
  }));
}

/** One more pod, at `address` on the pods' port. */
export function startPod(name: string, address: string, port: number): Promise<ExampleReplica> {
  return startReplica(name, `${address}:${port}`);
}

/** Each replica's state in a route's pool, as the gateway's metrics say (`switchyard_replica_state`). */
export async function replicaStates(base: string, route = "svc"): Promise<Record<string, string>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const states: Record<string, string> = {};
  const series = /^switchyard_replica_state\{route="([^"]*)",replica="([^"]*)",state="([^"]*)"\} 1$/;
  for (const line of text.split("\n")) {
    const m = series.exec(line);
    if (m && m[1] === route) states[m[2] as string] = m[3] as string;
  }
  return states;
}
