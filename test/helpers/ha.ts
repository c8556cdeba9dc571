import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createClient } from "@redis/client";
import { type Managed, owned, spawnManaged, startOnFreePort } from "./procs.js";
import { type RedisServer, startRedis } from "./redis.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/ha-server/server.ts", import.meta.url));

export interface HaNode extends Managed {
  node: string;
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
}

/** One replica of `examples/ha-server` (the `switchyard/ha` library) as a real process. */
/** `redis`: a URL (one server, or Sentinel), or the arguments that name a deployment (`RedisDeployment.haArgs`). */
export async function startHaNode(node: string, redis: string | string[], extra: string[] = []): Promise<HaNode> {
  const proc = spawnManaged(process.execPath, [
    "--import",
    "tsx",
    EXAMPLE,
    "--node",
    node,
    ...(typeof redis === "string" ? ["--redis", redis] : redis),
    ...extra,
  ]);
  // tsx compiles the example and the library first: a minute allows for a machine busy with other tests.
  const line = await proc
    .waitForLine((l) => l.includes('"listening"'), 60_000)
    .catch((err: Error) => {
      throw new Error(`switchyard/ha node ${node} did not start: ${err.message}`);
    });
  return Object.assign(proc, { node, url: (JSON.parse(line) as { url: string }).url });
}

/**
 * nginx in plain round-robin before `upstreams` (no affinity of any kind): each request goes to the next
 * replica. A replica that refuses connections is skipped (the request never reached it).
 */
export function startRoundRobinNginx(upstreams: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  // nginx cannot listen on port 0: a port that was free a moment ago, another one if it was taken meanwhile.
  return startOnFreePort((port) => roundRobinNginxOn(port, upstreams));
}

async function roundRobinNginxOn(port: number, upstreams: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const prefix = mkdtempSync(join(tmpdir(), "swy-nginx-"));
  mkdirSync(join(prefix, "logs"), { recursive: true });
  const servers = upstreams.map((u) => `    server ${new URL(u).host} max_fails=0;`).join("\n");
  // What this nginx answers on its readiness path: not another process that took the port.
  const token = randomUUID();
  writeFileSync(
    join(prefix, "nginx.conf"),
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  upstream replicas {
${servers}
  }
  server {
    listen 127.0.0.1:${port};
    location = /__switchyard_test_ready {
      return 200 "${token}";
    }
    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
      proxy_next_upstream error non_idempotent;
    }
  }
}
`,
  );
  const proc = spawnManaged("nginx", [
    "-p",
    prefix,
    "-c",
    join(prefix, "nginx.conf"),
    "-e",
    `${prefix}/logs/error.log`,
  ]);
  const output = () => {
    let log = "";
    try {
      log = readFileSync(join(prefix, "logs", "error.log"), "utf8");
    } catch {}
    return [...proc.lines, ...proc.stderr, log].join("\n");
  };
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  // nginx says nothing when it is up: wait until it answers its readiness path with this token.
  const deadline = Date.now() + 30_000;
  while (!exited) {
    const answer = await fetch(`http://127.0.0.1:${port}/__switchyard_test_ready`, {
      signal: AbortSignal.timeout(2000),
    }).then(
      (r) => r.text(),
      () => "",
    );
    if (answer === token) {
      return {
        url: `http://127.0.0.1:${port}/mcp`,
        // SIGTERM, nginx's fast shutdown: SIGQUIT would wait for every open stream (a failed test's
        // session still holds its GET stream); SIGKILL if it is still there after 5 s.
        stop: async () => {
          const timer = setTimeout(() => proc.child.kill("SIGKILL"), 5000);
          await proc.stop("SIGTERM");
          clearTimeout(timer);
        },
      };
    }
    if (Date.now() > deadline) {
      await proc.stop("SIGKILL");
      throw new Error(`nginx (round-robin) never answered on 127.0.0.1:${port} in 30 s:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx (round-robin) did not start:\n${output()}`);
}

/** An SDK client of the example's session, resuming broken streams quickly (with `Last-Event-ID`). */
export async function haClient(url: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    reconnectionOptions: {
      initialReconnectionDelay: 100,
      maxReconnectionDelay: 500,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 10,
    },
  });
  const c = new Client({ name: "ha-test", version: "1.0.0" });
  await c.connect(transport);
  return {
    c,
    transport,
    async increment() {
      const r = await c.callTool({ name: "increment", arguments: {} });
      return r.structuredContent as { count: number; node: string };
    },
    close: () => c.close(),
  };
}

/**
 * A `redis-server`, example replicas sharing it, and round-robin nginx before them, stopped together;
 * if one of them fails to start, the others are stopped before the error is thrown.
 */
export async function startHaCluster(names: string[], extra: string[] = []) {
  const procs = owned();
  try {
    const redis: RedisServer = await procs.own(startRedis());
    const nodes = await Promise.all(names.map((n) => procs.own(startHaNode(n, redis.url, extra))));
    const lb = await procs.own(startRoundRobinNginx(nodes.map((n) => n.url)));
    return { redis, nodes, lb, stop: () => procs.stopAll() };
  } catch (err) {
    await procs.stopAll();
    throw err;
  }
}

/**
 * A Redis client of the test's own, to watch what the `switchyard/ha` nodes write (keys under `swy:ha:`):
 * `s:<session>` (the registry entry), `n:<node>` (a live node's heartbeat), `if:<session>` (the
 * requests in flight). These are the server-side markers the HA tests wait for.
 */
export async function watchRedis(url: string) {
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  return {
    client,
    /** The session's registry entry (owner, stored `initialize`), or undefined. */
    session: async (id: string) => {
      const entry = await client.hGetAll(`swy:ha:s:${id}`);
      return entry.owner === undefined ? undefined : { owner: entry.owner };
    },
    /** Whether the node's heartbeat is there (it has written to this Redis within its TTL). */
    alive: async (node: string) => (await client.exists(`swy:ha:n:${node}`)) === 1,
    /** How many requests of the session its owner has recorded as in flight. */
    inFlight: (id: string) => client.hLen(`swy:ha:if:${id}`),
    close: () => client.close(),
  };
}

/**
 * `long_task` (20 steps, 150 ms apart) in the client's session, its replica `victim` killed at the
 * third progress event: how the call ended, and every progress value the client received.
 */
export async function longTaskThroughDeath(
  client: Awaited<ReturnType<typeof haClient>>,
  victim: HaNode,
): Promise<{ outcome: unknown; progress: number[] }> {
  const progress: number[] = [];
  const outcome = await client.c
    .callTool({ name: "long_task", arguments: { steps: 20, delayMs: 150 } }, undefined, {
      onprogress: (p) => {
        progress.push(p.progress);
        if (p.progress === 3) victim.child.kill("SIGKILL");
      },
      timeout: 30_000,
    })
    .then(
      () => "answered",
      (err: unknown) => err,
    );
  return { outcome, progress };
}
