/** Configurations of the contenders and of the stub upstream, written for one run. */

export interface Route {
  /** Served at `/NAME/mcp` by every contender. */
  name: string;
  /** `127.0.0.1:PORT` of the upstream. */
  upstream: string;
}

const SSE_BODY = [1, 2, 3]
  .map(
    (i) =>
      `event: message\\ndata: {\\"jsonrpc\\":\\"2.0\\",\\"method\\":\\"notifications/progress\\",\\"params\\":{\\"n\\":${i}}}\\n\\n`,
  )
  .join("");
const RESULT =
  '{\\"jsonrpc\\":\\"2.0\\",\\"id\\":1,\\"result\\":{\\"content\\":[{\\"type\\":\\"text\\",\\"text\\":\\"ok\\"}]}}';
/** The same answer as a 2026-07-28 server gives it: every result says whether it is complete. */
const MODERN_RESULT = RESULT.replace('\\"result\\":{', '\\"result\\":{\\"resultType\\":\\"complete\\",');
/** A tools/list answer the modern protocol lets a shared cache keep for a minute. */
export const LIST_ANSWER = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  result: {
    tools: Array.from({ length: 8 }, (_, i) => ({
      name: `tool_${i}`,
      description: `Tool number ${i}, with a description of ordinary length for a listing.`,
      inputSchema: { type: "object", properties: { text: { type: "string" } } },
    })),
    ttlMs: 60_000,
    cacheScope: "public",
  },
});
const LIST_RESULT = LIST_ANSWER.replace(/"/g, '\\"');
/**
 * W10: what each of a virtual server's three members lists (short, so that the merged list fits in one
 * nginx \`return\`), and the merged list as one plain route would give it: the same 24 tools.
 */
const FED_TOOLS = Array.from({ length: 8 }, (_, i) => ({
  name: `tool_${i}`,
  description: `Tool ${i}.`,
  inputSchema: { type: "object" },
}));
const listAnswer = (tools: unknown[]) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools, ttlMs: 60_000, cacheScope: "public" } }).replace(
    /"/g,
    '\\"',
  );
const FED_LIST_RESULT = listAnswer(FED_TOOLS);
const MERGED_LIST_RESULT = listAnswer(
  ["fed1", "fed2", "fed3"].flatMap((m) => FED_TOOLS.map((t) => ({ ...t, name: `${m}_${t.name}` }))),
);

/**
 * nginx in the foreground, as large as the file limit allows: one process (one worker, no master), or a
 * master with `workers` worker processes.
 */
function nginxMain(prefix: string, name: string, workerConnections: number, workers = 1): string {
  return `
worker_processes ${workers};
master_process ${workers > 1 ? "on" : "off"};
daemon off;
pid ${prefix}/${name}.pid;
error_log stderr error;
worker_rlimit_nofile 20000;
events { worker_connections ${workerConnections}; }`;
}

/**
 * The stub MCP upstream: nginx answering at once with canned JSON-RPC. `/json/mcp` keeps one fixed
 * session id; `/churn/mcp` gives a new one per response; `/sse/mcp` answers with a 3-event SSE stream;
 * `/modern/mcp` answers without a session (2026-07-28); `/list/mcp` answers a cacheable tools/list.
 */
export function stubNginx(port: number, prefix: string): string {
  return `${nginxMain(prefix, "stub", 19000)}
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /json/mcp {
      default_type application/json;
      add_header Mcp-Session-Id stub-session-1 always;
      return 200 "${RESULT}";
    }
    location = /churn/mcp {
      default_type application/json;
      add_header Mcp-Session-Id $request_id always;
      return 200 "${RESULT}";
    }
    location = /modern/mcp {
      default_type application/json;
      return 200 "${MODERN_RESULT}";
    }
    location = /list/mcp {
      default_type application/json;
      return 200 "${LIST_RESULT}";
    }
    location = /fedlist/mcp {
      default_type application/json;
      return 200 "${FED_LIST_RESULT}";
    }
    location = /mergedlist/mcp {
      default_type application/json;
      return 200 "${MERGED_LIST_RESULT}";
    }
    location = /sse/mcp {
      default_type text/event-stream;
      add_header Mcp-Session-Id stub-session-1 always;
      return 200 "${SSE_BODY}";
    }
  }
}
`;
}

/** nginx as a reverse proxy: one worker, keep-alive upstreams, no buffering. */
export function proxyNginx(port: number, prefix: string, routes: Route[], workers = 1): string {
  return `${nginxMain(prefix, "proxy", 19950, workers)}
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
${routes.map((r) => `  upstream ${r.name} { server ${r.upstream}; keepalive 512; }`).join("\n")}
  server {
    listen 127.0.0.1:${port} backlog=4096;
${routes
  .map(
    (r) => `    location /${r.name}/ {
      proxy_pass http://${r.name};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
    }`,
  )
  .join("\n")}
  }
}
`;
}

/** HAProxy (one thread, or `threads`), sticking sessions by the Mcp-Session-Id learned from responses. */
export function proxyHaproxy(port: number, routes: Route[], threads = 1): string {
  return `
global
  nbthread ${threads}
  maxconn 9900
  log stderr format raw local0 err
defaults
  mode http
  option http-no-delay
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  # A client that leaves an idle SSE stream only half-closes it: drop such streams (like nginx does).
  timeout client-fin 1s
  timeout server-fin 1s
  timeout http-keep-alive 300s
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  maxconn 9900
${routes.map((r) => `  use_backend ${r.name} if { path_beg /${r.name}/ }`).join("\n")}
${routes
  .map(
    (r) => `backend ${r.name}
  stick-table type string len 128 size 1m expire 1h
  stick match req.hdr(mcp-session-id)
  stick store-response res.hdr(mcp-session-id)
  server s1 ${r.upstream}`,
  )
  .join("\n")}
`;
}

/** Switchyard's configuration for the run (memory store, quiet logs). */
export const BENCH_ADMIN_TOKEN = "bench-admin-token-0123456789";

export function switchyardConfig(
  port: number,
  routes: Route[],
  heartbeat: string,
  variant: {
    redisUrl?: string;
    /** The `store:` section's lines (indented), for Sentinel or a Cluster (`RedisDeployment.storeYaml`). */
    storeYaml?: string;
    /** `workers: N` (`--workers`). */
    workers?: number;
    tokenKey?: string;
    dataDir?: string;
    dns?: { server: string; name: string };
    /** Every route an OAuth resource server for this issuer (audience `PUBLIC/NAME/mcp`). */
    oauth?: { issuer: string; publicUrl: string };
    /** OpenTelemetry on, exported by OTLP/HTTP to this collector; `otlpRatio` of new traces sampled (default all). */
    otlp?: string;
    otlpRatio?: number;
  } = {},
): string {
  const tokens = variant.tokenKey ? `affinity: token\ntokens:\n  keys: [{ id: 1, secret: ${variant.tokenKey} }]\n` : "";
  // The admin API on, for W8 (a tenant's server): tenants on disk, or in Redis with the Redis store.
  const admin = variant.dataDir
    ? `admin:\n  token: ${BENCH_ADMIN_TOKEN}\n  allowHttpServers: true\n  dataDir: ${variant.dataDir}\n`
    : "";
  return `
listen: 127.0.0.1:${port}
${variant.workers ? `workers: ${variant.workers}\n` : ""}${tokens}${admin}store:
${variant.storeYaml ?? `  url: ${variant.redisUrl ?? "memory"}\n`}logLevel: warn
heartbeat:
  interval: ${heartbeat}
health:
  interval: 5s
${variant.otlp ? `tracing:\n  otlp:\n    endpoint: ${variant.otlp}\n    sampleRatio: ${variant.otlpRatio ?? 1}\n` : ""}${variant.dns ? `resolver:\n  servers: [${variant.dns.server}]\n` : ""}${variant.oauth ? `publicUrl: ${variant.oauth.publicUrl}\nauth:\n  issuers: [${variant.oauth.issuer}]\n  scopes: [mcp:read]\n` : ""}${federation(routes).virtual}upstreams:
${routes.map((r) => `  ${r.name}:\n    replicas: [${replicaEntry(r, variant.dns?.name)}]`).join("\n")}
${federation(routes).members}`;
}

/**
 * Virtual servers for W9 and W10 (federation), where the stub's routes allow: `fed` with the modern
 * route as its one member, `lists` with three members that answer a cacheable list (and `merged`, a
 * plain route that answers their merged list as one).
 */
function federation(routes: Route[]): { virtual: string; members: string } {
  const list = routes.find((r) => r.name === "list");
  if (!list || !routes.some((r) => r.name === "modern")) return { virtual: "", members: "" };
  // The virtual section first: the bench's reload test appends routes at the end of the file.
  return {
    virtual: "virtual:\n  fed: { members: [modern] }\n  lists: { members: [fed1, fed2, fed3] }\n",
    members: `  merged:\n    replicas: [http://${list.upstream}/mergedlist/mcp]
${["fed1", "fed2", "fed3"].map((m) => `  ${m}:\n    replicas: [http://${list.upstream}/fedlist/mcp]`).join("\n")}
`,
  };
}

/** A route's replica: its address, or (DNS discovery) `name` resolving to that address, on its port. */
function replicaEntry(route: Route, dnsName: string | undefined): string {
  if (dnsName === undefined) return `http://${route.upstream}/${route.name}/mcp`;
  const port = route.upstream.split(":").at(-1);
  return `"dns+http://${dnsName}:${port}/${route.name}/mcp"`;
}
