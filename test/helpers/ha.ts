import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, type Managed, spawnManaged } from "./procs.js";
import { type RedisServer, startRedis } from "./redis.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/ha-server/server.ts", import.meta.url));

export interface HaNode extends Managed {
  node: string;
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
}

/** One replica of `examples/ha-server` (the `switchyard/ha` library) as a real process. */
export async function startHaNode(node: string, redisUrl: string, extra: string[] = []): Promise<HaNode> {
  const proc = spawnManaged(process.execPath, [
    "--import",
    "tsx",
    EXAMPLE,
    "--node",
    node,
    "--redis",
    redisUrl,
    ...extra,
  ]);
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  return Object.assign(proc, { node, url: (JSON.parse(line) as { url: string }).url });
}

/**
 * nginx in plain round-robin before `upstreams` (no affinity of any kind): each request goes to the next
 * replica. A replica that refuses connections is skipped (the request never reached it).
 */
export async function startRoundRobinNginx(upstreams: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), "swy-nginx-"));
  mkdirSync(join(prefix, "logs"), { recursive: true });
  const servers = upstreams.map((u) => `    server ${new URL(u).host} max_fails=0;`).join("\n");
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
  const proc = spawnManaged("nginx", ["-p", prefix, "-c", join(prefix, "nginx.conf")]);
  // nginx says nothing when it is up: wait until it answers.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      await proc.stop("SIGQUIT");
    },
  };
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

/** A `redis-server`, example replicas sharing it, and round-robin nginx before them, stopped together. */
export async function startHaCluster(names: string[], extra: string[] = []) {
  const redis: RedisServer = await startRedis();
  const nodes = await Promise.all(names.map((n) => startHaNode(n, redis.url, extra)));
  const lb = await startRoundRobinNginx(nodes.map((n) => n.url));
  return {
    redis,
    nodes,
    lb,
    async stop() {
      await lb.stop();
      await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
    },
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
