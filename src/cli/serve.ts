import cluster from "node:cluster";
import { ConfigError, loadConfig } from "../config/load.js";
import { createGateway } from "../gateway/server.js";
import { shareHealth } from "../gateway/share-health.js";
import { LocalHosts } from "../host/local-hosts.js";
import { attachLogger } from "../observability/logger.js";
import { startOtlp } from "../observability/tracing.js";
import { redisOptionsFrom, usesRedis } from "../redis/client.js";
import { createStore } from "../sessions/create-store.js";
import { WorkerSessionStore } from "../sessions/worker-store.js";
import { sharedTenancy } from "../tenancy/tenancy.js";
import { gatherAcrossWorkers } from "../workers/gather.js";
import { runPrimary, workerCount } from "../workers/primary.js";
import { WorkerHosts } from "../workers/shared-hosts.js";
import { shareReplicasAcrossWorkers } from "../workers/shared-replicas.js";
import { WorkerSlots } from "../workers/shared-slots.js";
import { workerTenancy } from "../workers/shared-tenancy.js";
import { joinPrimary, primaryChannel } from "../workers/worker.js";
import { reloadOn } from "./reload.js";

export interface ServeOptions {
  listen?: string;
  upstream: string[];
  config?: string;
  logLevel?: string;
  store?: string;
  adminToken?: string;
  workers?: string;
  watch?: boolean;
}

/** What closing takes once requests and streams are done with (pools, stores, hosts, telemetry): at most. */
const STOP_AFTER_GRACE_MS = 10_000;

export function fail(message: string): never {
  process.stderr.write(`switchyard: ${message}\n`);
  process.exit(2);
}

/**
 * Stop gracefully on SIGTERM/SIGINT; a second signal stops at once. A worker stops on its primary's
 * SIGTERM alone (Ctrl-C reaches the whole process group; the primary passes it on as one SIGTERM).
 */
export function onShutdown(stop: () => Promise<void>, deadlineMs?: number): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(1);
    stopping = true;
    // Past the deadline, whatever still hangs (a store that never answers its close) is abandoned: a
    // process manager's stop must not wait forever.
    if (deadlineMs !== undefined) {
      setTimeout(() => {
        process.stderr.write(`switchyard: not stopped ${deadlineMs} ms after the signal; exiting\n`);
        process.exit(1);
      }, deadlineMs).unref();
    }
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", cluster.isWorker ? () => {} : handler);
}

export async function runServe(options: ServeOptions): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  const flags = {
    listen: options.listen,
    upstream: options.upstream,
    logLevel: options.logLevel,
    store: options.store,
    adminToken: options.adminToken,
    workers: options.workers,
  };
  if (options.watch && !options.config) fail("--watch needs --config FILE");
  try {
    config = loadConfig({ file: options.config, flags });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (Object.keys(config.upstreams).length === 0 && config.admin.token === undefined) {
    fail(
      "no upstream configured: use --upstream NAME=URL[,URL...] or `upstreams` in --config (or --admin-token to host tenants' servers)",
    );
  }
  if (cluster.isPrimary && workerCount(config) > 1) {
    // The primary's own log: the `switchyard host` processes it runs for `command` routes.
    attachLogger(config.logLevel);
    return runPrimary(config);
  }
  joinPrimary();
  attachLogger(config.logLevel);
  // `tracing.otlp`: the OpenTelemetry SDK, before the first request (and ended last, after a final export).
  const otlp = config.tracing.otlp;
  const telemetry = otlp
    ? await startOtlp({
        endpoint: otlp.endpoint,
        headers: otlp.headers,
        sampleRatio: otlp.sampleRatio,
        serviceName: otlp.serviceName,
        metricsInterval: otlp.metricsInterval,
      })
    : undefined;
  // Routes that run their own stdio server: a local `switchyard host` each, its URL the route's replica.
  const hosts = cluster.isWorker ? new WorkerHosts(primaryChannel()) : new LocalHosts();
  try {
    config = await hosts.prepare(config);
  } catch (err) {
    await hosts.close();
    fail((err as Error).message);
  }
  // A worker with the embedded store asks the primary, which holds the gateway's one store.
  const store = await (cluster.isWorker && !usesRedis(config)
    ? new WorkerSessionStore(primaryChannel(), { idleTtlMs: config.sessions.idleTtl }).start()
    : createStore(config)
  ).catch((err: unknown) => {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  });
  // With a Redis store, tenants (and their sessions and rates) are shared by every gateway replica too;
  // on the embedded store, by every worker through the primary.
  const tenancy =
    config.admin.token === undefined
      ? undefined
      : usesRedis(config)
        ? await sharedTenancy(config, redisOptionsFrom(config))
        : cluster.isWorker
          ? await workerTenancy(primaryChannel())
          : undefined;
  // Under --workers, stream limits are the whole gateway's: the primary counts them.
  const slots = cluster.isWorker ? new WorkerSlots(primaryChannel()) : undefined;
  const gateway = createGateway(config, { store, ...(tenancy ? { tenancy } : {}), ...(slots ? { slots } : {}) });
  const bus = await shareHealth(gateway, config);
  if (cluster.isWorker) {
    shareReplicasAcrossWorkers(gateway, primaryChannel());
    gatherAcrossWorkers(gateway, primaryChannel());
  }
  // Before listening: a SIGHUP right after the listening line must reload, not end the process.
  const reloads = reloadOn({ gateway, config, file: options.config, flags, watch: options.watch === true, hosts });
  try {
    await gateway.listen();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    fail(`cannot listen on ${config.listen}: ${(err as Error).message}`);
  }
  onShutdown(
    async () => {
      reloads.close();
      await gateway.close();
      await bus?.close();
      await hosts.close();
      await telemetry?.shutdown();
    },
    config.shutdown.unreadyDelay + config.timeouts.shutdownGrace + STOP_AFTER_GRACE_MS,
  );
}
