import type { Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import { localOverview, mergeOverviews, type OverviewPart } from "../gateway/admin-operator.js";
import type { Gateway } from "../gateway/server.js";
import type { MetricsJson } from "../observability/metrics.js";
import { type CollectedMessage, type Gathered, isMessage, type PrimaryChannel } from "./ipc.js";

/**
 * What a request to one worker must answer for the whole gateway under `--workers`: `/metrics`
 * (counters and histograms summed; each gauge says how: open streams summed, the shared store's sessions
 * counted once, a replica down if any worker sees it down) and the admin API's overview (traffic and
 * requests in flight summed). The worker asked asks the primary, which collects every worker's share and
 * merges them.
 */
export function gatherAcrossWorkers(gateway: Gateway, primary: PrimaryChannel): void {
  const { metrics, collect } = gateway.state;
  if (metrics) metrics.render = () => primary.ask<string>({ op: "gather", what: "metrics" });
  collect.overview = () => primary.ask<OverviewPart>({ op: "gather", what: "overview" });
  primary.onTell((tell) => {
    if (tell.op !== "collect") return;
    const share: Promise<unknown> =
      tell.what === "metrics"
        ? (metrics?.json() ?? Promise.resolve([]))
        : Promise.resolve(localOverview(gateway.state));
    share.then(
      (value) => primary.send({ swy: "collected", id: tell.id, value }),
      () => primary.send({ swy: "collected", id: tell.id, value: tell.what === "metrics" ? [] : undefined }),
    );
  });
}

/** How long the primary waits for a worker's share (a busy or dying worker is left out of one answer). */
const COLLECT_MS = 2000;
let nextCollection = 1;

/** The primary's side: every live worker's share of `what`, merged. */
export async function gather(workers: Worker[], what: Gathered): Promise<unknown> {
  const id = nextCollection++;
  const parts = await Promise.all(
    workers.map(
      (w) =>
        new Promise<unknown>((resolve) => {
          const timer = setTimeout(() => done(undefined), COLLECT_MS);
          const onMessage = (m: unknown) => {
            if (isMessage<CollectedMessage>(m, "collected") && m.id === id) done(m.value);
          };
          const done = (value: unknown) => {
            clearTimeout(timer);
            w.off("message", onMessage);
            resolve(value);
          };
          w.on("message", onMessage);
          if (w.isConnected()) w.send({ swy: "tell", tell: { op: "collect", what, id } });
          else done(undefined);
        }),
    ),
  );
  const shares = parts.filter((p) => p !== undefined);
  if (what === "overview") return mergeOverviews(shares as OverviewPart[]);
  return AggregatorRegistry.aggregate(shares as MetricsJson[]).metrics();
}
