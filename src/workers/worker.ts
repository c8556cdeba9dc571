import cluster from "node:cluster";
import { subscribe } from "../observability/events.js";
import { PrimaryChannel } from "./ipc.js";

let channel: PrimaryChannel | undefined;

/** This worker's channel to its primary (one per process). */
export function primaryChannel(): PrimaryChannel {
  channel ??= new PrimaryChannel();
  return channel;
}

/**
 * A worker's side of `--workers`: the gateway's listening is told to the primary (which announces the
 * gateway once, when every worker listens), and the worker ends with its primary (a primary killed with
 * kill -9 leaves no worker behind).
 */
export function joinPrimary(): void {
  if (!cluster.isWorker) return;
  const primary = primaryChannel();
  subscribe("lifecycle", (e) => {
    if (e.event === "listening") primary.send({ swy: "listening", url: String(e.url ?? ""), event: { ...e } });
  });
  process.on("disconnect", () => process.exit(1));
}

/** The worker's number (1…N) under `--workers`, or undefined in a gateway of one process. */
export function workerSlot(): number | undefined {
  const slot = Number(process.env.SWITCHYARD_WORKER);
  return cluster.isWorker && slot > 0 ? slot : undefined;
}
