import type { Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { Metrics, MetricsJson } from "../observability/metrics.js";
import { isMessage, type MetricsMessage, type PrimaryChannel } from "./ipc.js";

/**
 * `/metrics` under `--workers` shows the whole gateway: whichever worker is scraped asks the primary,
 * which gathers every worker's metrics and sums them (counters and histograms summed; each gauge says
 * how: open streams summed, the shared store's sessions counted once, a replica down if any worker sees
 * it down).
 */
export function shareMetricsAcrossWorkers(metrics: Metrics | undefined, primary: PrimaryChannel): void {
  if (!metrics) return;
  metrics.render = () => primary.ask<string>({ op: "metrics.gather" });
  primary.onTell((tell) => {
    if (tell.op !== "metrics.collect") return;
    metrics.json().then(
      (json) => primary.send({ swy: "metrics", id: tell.id, json }),
      () => primary.send({ swy: "metrics", id: tell.id, json: [] }),
    );
  });
}

/** How long the primary waits for a worker's metrics (a busy or dying worker is left out of one scrape). */
const COLLECT_MS = 2000;
let nextCollection = 1;

/** The primary's side: every live worker's metrics, summed, as Prometheus text. */
export async function gatherMetrics(workers: Worker[]): Promise<string> {
  const id = nextCollection++;
  const parts = await Promise.all(
    workers.map(
      (w) =>
        new Promise<MetricsJson | undefined>((resolve) => {
          const timer = setTimeout(() => done(undefined), COLLECT_MS);
          const onMessage = (m: unknown) => {
            if (isMessage<MetricsMessage>(m, "metrics") && m.id === id) done(m.json as MetricsJson);
          };
          const done = (json: MetricsJson | undefined) => {
            clearTimeout(timer);
            w.off("message", onMessage);
            resolve(json);
          };
          w.on("message", onMessage);
          if (w.isConnected()) w.send({ swy: "tell", tell: { op: "metrics.collect", id } });
          else done(undefined);
        }),
    ),
  );
  return AggregatorRegistry.aggregate(parts.filter((p): p is MetricsJson => p !== undefined)).metrics();
}
