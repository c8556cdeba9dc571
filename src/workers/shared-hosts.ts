import type { Config } from "../config/schema.js";
import { commandRoutes, type Hosts, type LocalHosts } from "../host/local-hosts.js";
import type { Ask, PrimaryChannel } from "./ipc.js";

/**
 * Routes with `command` under `--workers`: the primary runs each route's one `switchyard host` (its
 * sessions live in that process, so every worker must reach the same one), and the workers ask it for
 * the hosts' URLs when they start and reload.
 */
export class WorkerHosts implements Hosts {
  constructor(private readonly primary: PrimaryChannel) {}

  async prepare(config: Config): Promise<Config> {
    const routes = Object.fromEntries(commandRoutes(config).map((name) => [name, config.upstreams[name]]));
    if (Object.keys(routes).length === 0) return config;
    const urls = await this.primary.ask<Record<string, string>>({
      op: "hosts.prepare",
      routes,
      logLevel: config.logLevel,
    });
    const upstreams = { ...config.upstreams };
    for (const [name, url] of Object.entries(urls)) {
      const route = upstreams[name];
      if (route) upstreams[name] = { ...route, replicas: [url] };
    }
    return { ...config, upstreams };
  }

  async settle(config: Config): Promise<void> {
    await this.primary.ask({ op: "hosts.settle", routes: commandRoutes(config) });
  }

  /** The primary ends the hosts, after its workers. */
  async close(): Promise<void> {}
}

/** The primary's answer to a worker's question about hosts. */
export async function answerHosts(hosts: LocalHosts, config: Config, ask: Ask): Promise<unknown> {
  if (ask.op === "hosts.settle") return hosts.keep(ask.routes);
  if (ask.op !== "hosts.prepare") return undefined;
  const prepared = await hosts.prepare({
    ...config,
    logLevel: ask.logLevel as Config["logLevel"],
    upstreams: ask.routes as Config["upstreams"],
  });
  return Object.fromEntries(Object.entries(prepared.upstreams).map(([name, u]) => [name, u.replicas[0]]));
}
