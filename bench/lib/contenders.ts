import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { CLI, freePort, type Managed, spawnManaged } from "../../test/helpers/procs.js";
import { LIST_ANSWER, proxyHaproxy, proxyNginx, type Route, stubNginx, switchyardConfig } from "./configs.js";

/** Something the load goes through (or, for `direct`, straight to). */
export interface Contender {
  name: string;
  /** URL of a route's MCP endpoint through this contender. */
  url(route: string): string;
  /** Where the contender listens (`http://127.0.0.1:PORT`); direct has none. */
  base: string | undefined;
  /** The process whose memory and descriptors are measured (none for direct). */
  pid: number | undefined;
  /** What the process wrote on stderr (for a failure report). */
  stderr(): string;
  /** Switchyard's process (its stderr names its inspector, when started with one). */
  proc?: Managed;
  /** Switchyard's configuration file, and a way to signal it (a reload: SIGHUP). */
  configFile?: string;
  signal?(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export async function waitForPort(port: number, proc?: Managed, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (proc && proc.child.exitCode !== null) throw new Error(`exited early: ${proc.stderr.join("\n")}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port}`);
}

function managed(name: string, proc: Managed, base: string): Contender {
  return {
    name,
    url: (route) => `${base}/${route}/mcp`,
    base,
    pid: proc.child.pid,
    stderr: () => proc.stderr.join("\n"),
    stop: async () => {
      await proc.stop("SIGTERM");
    },
  };
}

export function direct(routes: Route[]): Contender {
  const byName = new Map(routes.map((r) => [r.name, r.upstream]));
  return {
    name: "direct",
    url: (route) => `http://${byName.get(route)}/${route}/mcp`,
    base: undefined,
    pid: undefined,
    stderr: () => "",
    stop: async () => {},
  };
}

export async function startNginxProxy(nginx: string, dir: string, routes: Route[], workers = 1): Promise<Contender> {
  const port = await freePort();
  const name = workers > 1 ? `nginx-${workers}w` : "nginx";
  const prefix = join(dir, `${name}-proxy`);
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, "nginx.conf"), proxyNginx(port, prefix, routes, workers));
  const proc = spawnManaged(nginx, ["-p", prefix, "-c", join(prefix, "nginx.conf")]);
  await waitForPort(port, proc);
  return managed(name, proc, `http://127.0.0.1:${port}`);
}

export async function startHaproxy(haproxy: string, dir: string, routes: Route[], threads = 1): Promise<Contender> {
  const port = await freePort();
  const name = threads > 1 ? `haproxy-${threads}t` : "haproxy";
  const file = join(dir, `${name}.cfg`);
  writeFileSync(file, proxyHaproxy(port, routes, threads));
  const proc = spawnManaged(haproxy, ["-f", file, "-db"]);
  await waitForPort(port, proc);
  return managed(name, proc, `http://127.0.0.1:${port}`);
}

/** Switchyard with the memory store, the Redis store (a URL), or signed session ids (a key). */
export async function startSwitchyard(
  dir: string,
  routes: Route[],
  heartbeat = "15s",
  variant: {
    redisUrl?: string;
    /** With `storeYaml` (Sentinel, Cluster) or `workers`: the contender's name. */
    storeYaml?: string;
    label?: string;
    workers?: number;
    tokenKey?: string;
    dns?: { server: string; name: string };
    oauth?: { issuer: string; publicUrl: string };
    otlp?: string;
    otlpRatio?: number;
    /** Node's own options for the gateway process (`--cpu-prof`). */
    nodeArgs?: string[];
    /** The Node binary that runs it (the bench's own by default). */
    node?: string;
  } = {},
): Promise<Contender> {
  const port = await freePort();
  const name = variant.label
    ? variant.label
    : variant.redisUrl
      ? "switchyard+redis"
      : variant.tokenKey
        ? "switchyard+tokens"
        : variant.dns
          ? "switchyard+dns"
          : variant.oauth
            ? "switchyard+oauth"
            : variant.otlp
              ? `switchyard+tracing${variant.otlpRatio === undefined ? "" : `-${variant.otlpRatio}`}`
              : "switchyard";
  const file = join(dir, `${name}.yaml`);
  const dataDir = join(dir, `${name}-data`);
  writeFileSync(file, switchyardConfig(port, routes, heartbeat, { ...variant, dataDir }));
  const proc = spawnManaged(variant.node ?? process.execPath, [
    ...(variant.nodeArgs ?? []),
    CLI,
    "serve",
    "--config",
    file,
  ]);
  await proc.waitForLine((l) => l.includes('"listening"'));
  return {
    ...managed(name, proc, `http://127.0.0.1:${port}`),
    proc,
    configFile: file,
    signal: (s) => proc.child.kill(s),
  };
}

/** The nginx stub upstream (answers at once with canned JSON-RPC, `configs.ts`). */
export async function startStub(nginx: string, dir: string): Promise<{ stub: Managed; stubPort: number }> {
  const stubPort = await freePort();
  mkdirSync(join(dir, "stub"), { recursive: true });
  writeFileSync(join(dir, "stub", "nginx.conf"), stubNginx(stubPort, join(dir, "stub")));
  const stub = spawnManaged(nginx, ["-p", join(dir, "stub"), "-c", join(dir, "stub", "nginx.conf")]);
  await waitForPort(stubPort, stub);
  return { stub, stubPort };
}

/**
 * A reference of Node's own ceiling, on the same stub: `node-bare` (answers every POST from memory, as a
 * cache hit must: W7) or `node-proxy` (the leanest correct Node proxy: W1, W2, W6, W8).
 */
export async function startReference(
  kind: "node-bare" | "node-proxy",
  dir: string,
  routes: Route[],
): Promise<Contender> {
  const port = await freePort();
  const script = new URL(`../references/${kind}.mjs`, import.meta.url).pathname;
  let arg: string;
  if (kind === "node-bare") {
    arg = join(dir, "list-answer.json");
    writeFileSync(arg, LIST_ANSWER);
  } else {
    arg = JSON.stringify(Object.fromEntries(routes.map((r) => [r.name, r.upstream])));
  }
  const proc = spawnManaged(process.execPath, [script, String(port), arg]);
  await proc.waitForLine((l) => l.includes('"listening"'));
  return managed(kind, proc, `http://127.0.0.1:${port}`);
}
