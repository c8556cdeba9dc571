import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config/schema.js";
import { publish } from "../observability/events.js";

type Upstream = Config["upstreams"][string];

/** A host that died is started again after this, doubling up to `MAX_BACKOFF_MS` while it keeps dying. */
const BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

/** What a local host runs: a route's `command`, `args`, `env`, `host` and transport. */
function specOf(u: Upstream) {
  return { command: u.command, args: u.args, env: u.env, host: u.host, transport: u.transport };
}

/** `switchyard host`'s flags for a route's `host` settings. */
function hostFlags(u: Upstream): string[] {
  const h = u.host;
  const flags = [
    `--pool=${h.pool}`,
    `--max-processes=${h.maxProcesses}`,
    `--start-timeout=${h.startTimeout}ms`,
    `--request-timeout=${h.requestTimeout}ms`,
    `--idle-ttl=${h.idleTtl}ms`,
  ];
  if (!h.spare) flags.push("--no-spare");
  if (h.maxMemory !== undefined) flags.push(`--max-memory=${h.maxMemory}`);
  if (h.maxCpuSeconds !== undefined) flags.push(`--max-cpu-seconds=${h.maxCpuSeconds}`);
  if (h.user !== undefined) flags.push(`--user=${h.user}`);
  if (h.group !== undefined) flags.push(`--group=${h.group}`);
  if (h.workdir !== undefined) flags.push(`--workdir=${h.workdir}`);
  for (const e of u.env) flags.push(`--env=${e}`);
  return flags;
}

/**
 * One route's `switchyard host`, a child process of the gateway on a loopback port that it keeps across
 * restarts (so the route's replica URL stays the same): started again, with backoff, when it dies. Its
 * log lines go to the gateway's log, tagged with the route.
 */
class LocalHost {
  private child: ChildProcess | undefined;
  private port = 0;
  private stopped = false;
  private backoffMs = BACKOFF_MS;
  private readonly stateDir = mkdtempSync(join(tmpdir(), "switchyard-local-host-"));
  readonly spec: ReturnType<typeof specOf>;

  constructor(
    readonly route: string,
    private readonly upstream: Upstream,
    private readonly logLevel: string,
  ) {
    this.spec = specOf(upstream);
  }

  /** Start it; resolves with its MCP URL once it listens. */
  start(): Promise<string> {
    const u = this.upstream;
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        process.argv[1] as string,
        "host",
        `--listen=127.0.0.1:${this.port}`,
        `--state-dir=${this.stateDir}`,
        `--log-level=${this.logLevel}`,
        ...hostFlags(u),
        "--",
        u.command as string,
        ...u.args,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.child = child;
    return new Promise((resolve, reject) => {
      let listening = false;
      createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on("line", (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          process.stdout.write(`${line}\n`);
          return;
        }
        if (!listening && entry.event === "listening" && typeof entry.url === "string") {
          listening = true;
          this.port = Number(new URL(entry.url).port);
          this.backoffMs = BACKOFF_MS;
          resolve(`${entry.url}${u.transport === "sse" ? "/sse" : "/mcp"}`);
          return;
        }
        process.stdout.write(`${JSON.stringify({ ...entry, host: this.route })}\n`);
      });
      child.once("exit", (code, signal) => {
        if (!listening)
          reject(new Error(`switchyard host for route ${this.route} exited (${code ?? signal}) before listening`));
        if (this.stopped) return;
        publish("fault", {
          where: `local host ${this.route}`,
          code: "SWY_HOST_EXITED",
          message: `exited (${code ?? signal}); started again in ${this.backoffMs} ms`,
        });
        setTimeout(() => {
          if (!this.stopped) this.start().catch(() => {});
        }, this.backoffMs).unref();
        this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
      });
    });
  }

  /** End it (it ends every process it runs); resolves once it exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

/**
 * The routes that run their own stdio server (`upstreams.NAME.command`): a local `switchyard host` each,
 * whose URL becomes the route's one replica. `prepare` starts what a configuration needs (keeping those
 * whose settings did not change) and returns the configuration with those replicas filled in; `settle`
 * ends the ones the configuration in force no longer has. Under `--workers` the primary runs them for
 * every worker (`workers/shared-hosts.ts`).
 */
export interface Hosts {
  prepare(config: Config): Promise<Config>;
  settle(config: Config): Promise<void>;
  close(): Promise<void>;
}

/** The routes whose stdio server runs here (`command`). */
export function commandRoutes(config: Config): string[] {
  return Object.entries(config.upstreams)
    .filter(([, u]) => u.command !== undefined)
    .map(([name]) => name);
}

export class LocalHosts implements Hosts {
  private readonly running = new Map<string, { host: LocalHost; url: string }>();
  /** One change at a time (under `--workers`, several workers may ask at once). */
  private queue: Promise<unknown> = Promise.resolve();

  private serially<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => {});
    return next;
  }

  prepare(config: Config): Promise<Config> {
    return this.serially(() => this.start(config));
  }

  private async start(config: Config): Promise<Config> {
    const upstreams: Config["upstreams"] = {};
    for (const [name, u] of Object.entries(config.upstreams)) {
      if (u.command === undefined) {
        upstreams[name] = u;
        continue;
      }
      let entry = this.running.get(name);
      if (!entry || !isDeepStrictEqual(entry.host.spec, specOf(u))) {
        const host = new LocalHost(name, u, config.logLevel);
        const url = await host.start();
        const stale = entry;
        entry = { host, url };
        this.running.set(name, entry);
        if (stale) await stale.host.stop();
      }
      upstreams[name] = { ...u, replicas: [entry.url] };
    }
    return { ...config, upstreams };
  }

  /** End the hosts of routes `config` does not run (after it was applied). */
  settle(config: Config): Promise<void> {
    return this.keep(commandRoutes(config));
  }

  /** End the hosts of every route but `routes`. */
  keep(routes: readonly string[]): Promise<void> {
    return this.serially(async () => {
      for (const [name, entry] of this.running) {
        if (routes.includes(name)) continue;
        this.running.delete(name);
        await entry.host.stop();
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.values()].map((e) => e.host.stop()));
    this.running.clear();
  }
}
