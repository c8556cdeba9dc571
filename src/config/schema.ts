import { z } from "zod";
import { clusterNodesProblem, isSentinelUrl, sentinelUrlProblem } from "../redis/topology.js";
import { parseCidrs } from "../security/address-policy.js";
import { parseReplicaEntry } from "../upstream/replica-entry.js";
import { envEntries, hostSchema } from "./host-schema.js";
import { duration, durationOption, sizeOption } from "./units.js";
import { virtualSchema } from "./virtual-schema.js";

/**
 * One schema = every option, its default and its documentation. `docs/config.md` is generated from it
 * (`npm run docs:config`) and a test keeps the two in step. Objects are strict: an unknown or renamed key
 * fails loudly at start, naming the key.
 */

const HOST_PORT_OR_HOST = /^(\[[0-9a-fA-F:.]+\]:\d{1,5}|[0-9a-fA-F:.]+)$/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;
export const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const replicaUrl = z.string().superRefine((v, ctx) => {
  const entry = parseReplicaEntry(v);
  if ("error" in entry) ctx.addIssue({ code: "custom", message: entry.error });
});

const cidr = z.string().refine(
  (v) => {
    try {
      parseCidrs([v]);
      return true;
    } catch {
      return false;
    }
  },
  { message: "must be an IP address or CIDR, e.g. 10.1.0.0/16" },
);

const httpsUrl = z
  .string()
  .url()
  .refine((v) => /^https?:\/\//.test(v), { message: "must be an http(s) URL" });

const discoverySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/, "reverse-DNS with exactly one `/`, e.g. `com.example/tickets`")
      .max(200)
      .optional()
      .describe("Server name in reverse-DNS form (default: from the public host and the route name)."),
    title: z.string().max(100).optional().describe("Display name (default: the upstream's `serverInfo.title`)."),
    description: z
      .string()
      .max(100)
      .optional()
      .describe("One line on what the server does (default: the upstream's `serverInfo.description`)."),
    version: z.string().max(255).optional().describe("Version (default: the upstream's `serverInfo.version`)."),
    websiteUrl: httpsUrl.optional().describe("Public web page of the server."),
    repository: z
      .strictObject({
        url: httpsUrl,
        source: z.string().describe("e.g. `github`"),
        subfolder: z.string().optional(),
        id: z.string().optional(),
      })
      .optional()
      .describe("Source repository."),
    icons: z
      .array(
        z.strictObject({
          src: httpsUrl,
          mimeType: z.string().optional(),
          sizes: z.array(z.string()).optional(),
          theme: z.enum(["light", "dark"]).optional(),
        }),
      )
      .optional()
      .describe("Icons (`src` must be a public URL)."),
    provider: z
      .strictObject({ name: z.string(), url: httpsUrl.optional() })
      .optional()
      .describe("Who runs the server, for `/.well-known/mcp`."),
    headers: z
      .array(
        z.strictObject({
          name: z.string(),
          description: z.string().optional(),
          isRequired: z.boolean().optional(),
          isSecret: z.boolean().optional(),
        }),
      )
      .default([])
      .describe("Headers a client must send (e.g. an API key), listed in the card's `remotes[]`; never their values."),
    tools: z.boolean().default(false).describe("List the upstream's tools in `/.well-known/mcp` (`tools[]`)."),
  })
  .prefault({})
  .describe("What discovery documents say of this route; unset fields are filled from the upstream.");

const scopeToken = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "a scope is one token of visible ASCII, no quote or backslash");
const scopeMap = z.record(z.string().min(1), z.array(scopeToken));
/** Asymmetric algorithms only: never `none`, never an HMAC key taken from a public JWKS. */
const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

export const authSchema = z
  .strictObject({
    issuers: z
      .array(z.url({ protocol: /^https?$/ }))
      .min(1, "at least one authorization server")
      .describe(
        "Authorization servers (issuer URLs) whose tokens are accepted; their metadata (RFC 8414, or OpenID discovery) gives the JWKS.",
      ),
    audience: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        "The audience a token must carry (RFC 8707): default the route's canonical URL, `publicUrl` + `/NAME/mcp` (one of the two is required).",
      ),
    scopes: z.array(scopeToken).default([]).describe("Scopes every request of the route needs."),
    tools: scopeMap
      .default({})
      .describe("Extra scopes per tool name (`*` patterns allowed), e.g. `{ 'delete_*': [tickets:admin] }`."),
    prompts: scopeMap.default({}).describe("Extra scopes per prompt name (`*` patterns allowed)."),
    resources: scopeMap.default({}).describe("Extra scopes per resource URI (`*` patterns allowed)."),
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .min(1)
      .default([...JWT_ALGORITHMS])
      .describe("Signature algorithms accepted (asymmetric only: never `none`, never HMAC)."),
    clockTolerance: durationOption("10s", "Leeway for `exp` and `nbf`."),
    introspection: z
      .strictObject({
        issuer: z
          .url({ protocol: /^https?$/ })
          .optional()
          .describe("The authorization server to ask (default: the first of `issuers`)."),
        clientId: z.string().min(1).describe("The gateway's client id at that server."),
        clientSecret: z.string().optional().describe("Its secret (or `clientSecretFile`); never logged."),
        clientSecretFile: z.string().optional().describe("The secret read from this file (a mounted secret)."),
      })
      .optional()
      .describe(
        "Opaque (non-JWT) tokens are checked by token introspection (RFC 7662) at the issuer's `introspection_endpoint`; an answer is kept no longer than the token's `exp`.",
      ),
  })
  .describe("OAuth 2.1 resource server: only requests with a valid bearer token for this route pass.");

export const upstreamSchema = z
  .strictObject({
    replicas: z
      .array(replicaUrl)
      .default([])
      .describe(
        "The MCP endpoint URL of each replica, e.g. `http://10.0.0.5:3000/mcp`; for `transport: sse`, the URL of its SSE stream, e.g. `http://10.0.0.5:3001/sse` (`sse+http://...` also says `transport: sse`). Or a DNS name whose records are the replicas: `dns+http://tickets.mcp.svc.cluster.local:3000/mcp` (each A/AAAA address on that port and path; `dns+https://`, `dns+sse+http://`), `dns+srv+http://_mcp._tcp.tickets.mcp.svc.cluster.local/mcp` (each SRV target and port). Listed and DNS entries mix.",
      ),
    transport: z
      .enum(["streamable-http", "sse"])
      .default("streamable-http")
      .describe(
        "What the replicas speak: `streamable-http` (served at `/NAME/mcp`) or the deprecated HTTP+SSE transport of 2024-11-05, `sse` (clients open `/NAME/sse` and POST to the URL it announces, `/NAME/messages?sessionId=...`).",
      ),
    balancer: z
      .enum(["least-in-flight", "round-robin"])
      .default("least-in-flight")
      .describe("How a new session or a session-less request picks a healthy replica."),
    sessions: z
      .enum(["sticky", "shared"])
      .default("sticky")
      .describe(
        "`sticky`: a session lives on the replica that created it (its loss is a 404, and the client re-initializes). `shared`: the replicas share session state (`switchyard/ha`): a session goes to the node its id names, and when that replica is gone to another healthy one (the same for every gateway) instead.",
      ),
    discovery: discoverySchema,
    guard: z
      .boolean()
      .default(false)
      .describe(
        "Connect to these replicas only at addresses `security.ssrf` allows, checked at every connection (DNS pinned). Operator-configured routes are trusted by default; tenant-registered servers are always guarded.",
      ),
    toolRoutes: z
      .record(z.string().min(1), z.string().regex(ROUTE_NAME))
      .default({})
      .describe(
        "Modern-protocol `tools/call` requests for these tools (by their `Mcp-Name` header, checked against the body) go to another route's replicas: `{ TOOL: ROUTE }`, so a heavy tool can get replicas of its own.",
      ),
    auth: z
      .union([z.literal(false), authSchema])
      .optional()
      .describe("This route's OAuth settings (default: the top-level `auth`); `false`: this route needs no token."),
    upstreamAuth: z
      .union([
        z.enum(["none", "passthrough"]),
        z.strictObject({
          exchange: z.strictObject({
            audience: z.string().min(1).describe("The upstream's identifier: the exchanged token's audience."),
            scope: z.string().optional().describe("Scopes to ask for (default: those of the client's token)."),
            clientId: z.string().min(1).describe("The gateway's client id at the issuer."),
            clientSecret: z.string().optional().describe("Its secret (or `clientSecretFile`); never logged."),
            clientSecretFile: z.string().optional().describe("The secret read from this file."),
          }),
        }),
      ])
      .default("none")
      .describe(
        "On a route with `auth`, what credential goes upstream: `none` (the client's token never does; `headers` may send the gateway's own); `{ exchange: … }` — a token for the upstream, obtained by token exchange (RFC 8693) at the client token's issuer, same subject, kept until it expires; or `passthrough` — the client's token as it came, only for replicas that are themselves its audience: a token passed on can be replayed wherever it is accepted.",
      ),
    headers: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"), z.string())
      .default({})
      .describe(
        "Headers sent to these replicas in place of any the client sent under those names, e.g. `{ Authorization: Bearer TOKEN }` (a credential of the gateway's, not the client's); never logged.",
      ),
    headerFiles: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"), z.string())
      .default({})
      .describe("The same, each value read from a file (a mounted secret); read again on reload."),
    command: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A stdio MCP server this gateway runs itself (instead of `replicas`): `switchyard host` is started for the route on a loopback port, a process of its own per session (`host` sets how). E.g. `npx`.",
      ),
    args: z
      .array(z.string())
      .default([])
      .describe("The `command`'s arguments, e.g. `[-y, '@modelcontextprotocol/server-memory']`."),
    env: envEntries,
    host: hostSchema.prefault({}),
    connections: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Cap on open connections from this gateway to each replica (default: none). Each open stream holds one, so a cap also caps concurrent streams; requests past it wait.",
      ),
  })
  .superRefine((u, ctx) => {
    if (u.command === undefined && u.replicas.length === 0) {
      ctx.addIssue({ code: "custom", path: ["replicas"], message: "needs at least one replica URL (or a `command`)" });
    }
    if (u.command !== undefined && u.replicas.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["command"],
        message: "a route runs its own `command` or has `replicas`, not both",
      });
    }
  })
  .describe("A route served at `/NAME/mcp` (or `/NAME/sse` with `transport: sse`).");

export const configSchema = z
  .strictObject({
    listen: z
      .string()
      .regex(HOST_PORT, "must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
      .default("127.0.0.1:8080")
      .describe("Address the gateway listens on (`HOST:PORT`; port 0 picks a free port)."),
    publicUrl: z
      .string()
      .refine(
        (v) => {
          try {
            const u = new URL(v);
            return (u.protocol === "http:" || u.protocol === "https:") && !u.search && !u.hash && !u.username;
          } catch {
            return false;
          }
        },
        { message: "must be an http:// or https:// URL without query, fragment or credentials" },
      )
      .optional()
      .describe(
        "The gateway's public base URL as clients reach it, e.g. `https://mcp.example.com` (with a path if a proxy mounts the gateway under one). Used for the URLs the gateway announces (HTTP+SSE message endpoints); default: from the request (`Host`, or `X-Forwarded-Host`/`-Proto` with `security.trustProxy`).",
      ),
    workers: z
      .union([z.number().int().min(1).max(256), z.literal("auto")])
      .default(1)
      .describe(
        "Processes serving the one listening address, supervised by a primary that restarts one that dies: `auto` = the CPUs this process may use (its cgroup's CPU quota included). One gateway whatever the count: sessions, tenants, replica health and membership, stream limits and metrics are shared by the workers (docs/workers.md).",
      ),
    logLevel: z
      .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
      .default("info")
      .describe("Log level. `info` logs one line per request; `warn` is quiet on the hot path."),
    upstreams: z
      .record(z.string().regex(ROUTE_NAME, "route names are 1-64 of [A-Za-z0-9._-]"), upstreamSchema)
      .default({})
      .describe("Routes by name: `upstreams.NAME` is served at `/NAME/mcp`."),
    virtual: z
      .record(
        z.string().regex(ROUTE_NAME, "route names are 1-64 of [A-Za-z0-9._-]"),
        virtualSchema.extend({
          auth: z
            .union([z.literal(false), authSchema])
            .optional()
            .describe(
              "The virtual server's OAuth settings (default: the top-level `auth`): it is a resource server of its own, its scopes name tools and prompts as its clients see them; `false`: it needs no token (refused when a member needs one).",
            ),
        }),
      )
      .default({})
      .describe(
        "Virtual servers by name (federation): `virtual.NAME` is served at `/NAME/mcp` and serves the tools, prompts and resources of its member routes as one MCP server, to clients of every protocol era.",
      ),
    auth: authSchema
      .optional()
      .describe("OAuth settings for every route that does not set its own (`upstreams.NAME.auth`)."),
    store: z
      .strictObject({
        url: z
          .string()
          .refine((v) => v === "memory" || /^rediss?:\/\/[^\s]+$/.test(v) || sentinelUrlProblem(v) === undefined, {
            message:
              "must be `memory`, a redis:// or rediss:// URL, or redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/NAME[/DB]",
          })
          .default("memory")
          .describe(
            "Where sessions live: `memory` (this process only), `redis://[user:password@]HOST:PORT[/DB]` (`rediss://` for TLS), or Redis behind Sentinel, `redis+sentinel://[user:password@]SENTINEL:PORT[,SENTINEL:PORT…]/PRIMARY-NAME[/DB]` (`rediss+sentinel://` for TLS): shared by every gateway replica.",
          ),
        sentinel: z
          .strictObject({
            username: z.string().optional().describe("ACL user of the sentinels, when they require one."),
            password: z.string().optional().describe("The sentinels' password, when it differs from the data nodes'."),
            passwordFile: z.string().optional().describe("The sentinels' password read from this file."),
          })
          .optional()
          .describe("Credentials of the sentinels themselves (the URL's are the data nodes')."),
        cluster: z
          .array(
            z.string().refine((v) => clusterNodesProblem([v]) === undefined, {
              message: "a node is redis://HOST:PORT, rediss://HOST:PORT or HOST:PORT",
            }),
          )
          .min(1)
          .optional()
          .describe(
            "A Redis Cluster instead of `url`: some of its nodes (`redis://HOST:PORT`, `rediss://…` or `HOST:PORT`; the rest is discovered). Credentials and TLS as for one server.",
          ),
        prefix: z.string().default("swy:").describe("Namespace of every Redis key."),
        username: z.string().optional().describe("Redis ACL user (or give it in the URL)."),
        password: z
          .string()
          .optional()
          .describe("Redis password (or give it in the URL, or set `SWITCHYARD_REDIS_PASSWORD`); never logged."),
        passwordFile: z.string().optional().describe("The Redis password read from this file (a mounted secret)."),
        commandTimeout: durationOption("1s", "A Redis command not answered in this time fails (the request gets 503)."),
        tls: z
          .strictObject({
            ca: z
              .string()
              .optional()
              .describe(
                "PEM file of the CA(s) that signed the Redis server's certificate (default: the system's CAs).",
              ),
            cert: z
              .string()
              .optional()
              .describe("PEM file of a client certificate, for Redis servers that require one."),
            key: z.string().optional().describe("PEM file of the client certificate's private key."),
            servername: z
              .string()
              .optional()
              .describe("Name the server's certificate must carry, when it is not the host of the URL."),
          })
          .prefault({})
          .describe("TLS for `rediss://` URLs; the server's certificate is always verified."),
      })
      .prefault({}),
    affinity: z
      .enum(["store", "token"])
      .default("store")
      .describe(
        "How a session finds its replica: `store` (the session store maps id → replica) or `token` (the gateway hands out signed session ids that carry the replica; no store lookup at all).",
      ),
    tokens: z
      .strictObject({
        keys: z
          .array(
            z.strictObject({
              id: z.number().int().min(0).max(255).describe("Key id, written in each token."),
              secret: z
                .string()
                .trim()
                .refine((v) => Buffer.from(v, "base64").length === 32, { message: "must be 32 bytes, base64" })
                .describe("32 random bytes, base64 (`openssl rand -base64 32`)."),
              secretFile: z.string().optional().describe("The secret read from this file (a mounted secret) instead."),
            }),
          )
          .default([])
          .describe(
            "Token keys: the first signs new tokens, all open them (rotation). The same on every gateway. Or `SWITCHYARD_TOKEN_KEYS=ID:SECRET[,ID:SECRET...]`.",
          ),
        maxAge: durationOption(
          "24h",
          "A signed session id older than this is refused (404: the client re-initializes).",
          { timer: false },
        ),
      })
      .prefault({}),
    sessions: z
      .strictObject({
        idleTtl: durationOption("1h", "A session unused for this long is forgotten (sliding; each request renews it)."),
        maxSessions: z
          .number()
          .int()
          .positive()
          .default(1_000_000)
          .describe("Sessions remembered by the in-memory store; past it, the least recently used is forgotten."),
      })
      .prefault({}),
    heartbeat: z
      .strictObject({
        interval: durationOption(
          "15s",
          "Idle time on an SSE stream after which a `:` comment is sent between events (0 = never); it goes out within a tenth of the interval after.",
        ),
      })
      .prefault({}),
    limits: z
      .strictObject({
        maxBodyBytes: sizeOption("4MiB", "Largest request body accepted (larger → 413)."),
        streamBufferBytes: sizeOption(
          "64KiB",
          "Bytes held for one slow client before the gateway stops reading that stream's upstream.",
        ),
        slowClientTimeout: durationOption(
          "30s",
          "A client that reads nothing of a full buffer for this long is disconnected.",
        ),
        maxStreams: z
          .number()
          .int()
          .min(0)
          .default(20_000)
          .describe(
            "Long-lived streams (GET streams, HTTP+SSE streams, `subscriptions/listen`) open at once on this gateway; past it → 503. 0: no cap.",
          ),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        requestHeaders: durationOption("10s", "Time a client has to send its request headers."),
        requestBody: durationOption("30s", "Time a client has to send its whole request body."),
        upstreamConnect: durationOption("5s", "Time to connect to a replica (→ 504)."),
        upstreamHeaders: durationOption(
          "120s",
          "Time for a replica to start its response (→ 504). Streams are not limited once started.",
        ),
        sseMessage: durationOption(
          "10s",
          "Time for an HTTP+SSE replica to answer a POSTed message (it answers 202 at once; some never answer a message for a session they do not know) (→ 504).",
        ),
        keepAlive: durationOption(
          "65s",
          "Idle keep-alive of client connections; keep it above your load balancer's idle timeout.",
        ),
        shutdownGrace: durationOption("10s", "On SIGTERM, time given to in-flight requests before streams are closed."),
      })
      .prefault({}),
    cache: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "Answer modern-protocol list requests (`tools/list`, `resources/list`, `prompts/list`, `resources/templates/list`, `server/discover`) from a shared cache while the upstream's `ttlMs` allows: `public` answers for everyone, `private` ones per authorization context.",
          ),
        maxEntries: z.number().int().positive().default(10_000).describe("Answers kept at most."),
        maxBytes: sizeOption("64MiB", "Bytes kept at most (least recently used answers go first)."),
        maxEntryBytes: sizeOption("1MiB", "A larger answer is passed on but not kept."),
        maxTtl: durationOption("1h", "An answer is kept at most this long, whatever its `ttlMs`."),
      })
      .prefault({}),
    admin: z
      .strictObject({
        token: z
          .string()
          .min(16, "at least 16 characters")
          .optional()
          .describe(
            "Enables the admin API under `/admin/v1` for `Authorization: Bearer TOKEN` (or `--admin-token`, or `SWITCHYARD_ADMIN_TOKEN`); never logged.",
          ),
        tokenFile: z.string().optional().describe("The admin token read from this file (a mounted secret)."),
        allowHttpServers: z
          .boolean()
          .default(false)
          .describe("Let tenants register plain `http://` server URLs (otherwise `https://` only)."),
        dataDir: z
          .string()
          .default(".switchyard")
          .describe("Where tenants and keys are kept on local disk (`tenants.json`), when no Redis store is set."),
        readToken: z
          .string()
          .min(16, "at least 16 characters")
          .optional()
          .describe(
            "A second bearer token for the admin API that may only read (GET): for the operator's console in read-only mode, dashboards and audits. Anything else with it → 403 `SWY_ADMIN_READ_ONLY`; never logged.",
          ),
        readTokenFile: z.string().optional().describe("The read-only token read from this file (a mounted secret)."),
      })
      .prefault({}),
    tenants: z
      .strictObject({
        quotas: z
          .strictObject({
            sessions: z
              .number()
              .int()
              .min(0)
              .default(100)
              .describe("Sessions a tenant may hold open at once (legacy and HTTP+SSE); past it → 429."),
            streams: z
              .number()
              .int()
              .min(0)
              .default(20)
              .describe("Long-lived streams a tenant may hold open at once on one gateway replica; past it → 429."),
            rps: z
              .number()
              .positive()
              .default(50)
              .describe(
                "Requests per second per tenant (token bucket, shared by every gateway replica when the store is Redis); past it → 429 with `Retry-After`.",
              ),
            burst: z.number().int().positive().default(100).describe("Requests a tenant may send in a burst."),
            maxBodyBytes: sizeOption("1MiB", "Largest request body a tenant may send (→ 413)."),
          })
          .prefault({})
          .describe(
            "Every tenant's quotas unless the admin API sets its own (`PUT /admin/v1/tenants/ID` with `quotas`).",
          ),
        jwt: z
          .strictObject({
            jwks: z.url().describe("URL of the identity provider's JSON Web Key Set."),
            issuer: z.string().min(1).describe("The `iss` a token must carry."),
            audience: z.string().min(1).describe("The `aud` a token must carry (this gateway)."),
            tenantClaim: z.string().min(1).default("tenant").describe("The claim that names the tenant."),
          })
          .optional()
          .describe(
            "Accept JWT bearer tokens (signed by a key of the JWKS, from the issuer, for the audience) besides tenant API keys; the principal is the token's `sub`.",
          ),
      })
      .prefault({}),
    discovery: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe("Serve `/.well-known/mcp`, `/.well-known/ai-catalog.json` and each route's server card."),
        refresh: durationOption("5m", "How often what the upstreams say about themselves is asked again."),
      })
      .prefault({}),
    console: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "The operator's console at `/console/`, wherever the admin API is served (the operations listener when `ops.listen` is set, else the public one), when `admin.token` is set. Sign in with the admin token, or `admin.readToken` for a read-only view.",
          ),
        listen: z
          .string()
          .regex(HOST_PORT, "must be HOST:PORT, e.g. 127.0.0.1:9091")
          .optional()
          .describe(
            "A listener of the console's own (`HOST:PORT`): the console and the admin API it calls, and nothing else. The console is then served there only; the admin API stays where it was too.",
          ),
      })
      .prefault({}),
    ops: z
      .strictObject({
        listen: z
          .string()
          .regex(HOST_PORT, "must be HOST:PORT, e.g. 127.0.0.1:9090 or 0.0.0.0:9090")
          .optional()
          .describe(
            "An operations listener (`HOST:PORT`) for `/metrics`, `/readyz` in detail, `/healthz` and the admin API. When set, the public listener answers only the MCP routes, the discovery documents, `/healthz` and `/readyz` (status only); the rest is 404 there.",
          ),
      })
      .prefault({}),
    diagnostics: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            "Serve `GET /.switchyard/diagnostics/stream` for `switchyard check`: a stream of timed events, then an idle period with heartbeats, that echoes the request headers it received (values only of MCP and path headers such as `X-Forwarded-*`; any other as `(present)`). At most 4 at once; open to anyone who reaches the gateway: enable it to audit a deployment.",
          ),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Serve Prometheus metrics at `GET /metrics`."),
        token: z
          .string()
          .min(16, "at least 16 characters")
          .optional()
          .describe(
            "When set, `/metrics` answers only `Authorization: Bearer TOKEN` (401 otherwise); or `SWITCHYARD_METRICS_TOKEN`; never logged.",
          ),
        tokenFile: z.string().optional().describe("The metrics token read from this file (a mounted secret)."),
      })
      .prefault({}),
    tracing: z
      .strictObject({
        otlp: z
          .strictObject({
            endpoint: z
              .url({ protocol: /^https?$/ })
              .describe(
                "The OTLP/HTTP collector's base URL, e.g. `http://otel-collector:4318` (spans go to `/v1/traces`, metrics to `/v1/metrics`). The exporter also reads the standard `OTEL_EXPORTER_OTLP_HEADERS`.",
              ),
            headers: z
              .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"), z.string())
              .default({})
              .describe("Headers sent with every export (a collector's credential); never logged."),
            headerFiles: z
              .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"), z.string())
              .default({})
              .describe("The same, each value read from a file (a mounted secret)."),
            sampleRatio: z
              .number()
              .min(0)
              .max(1)
              .default(1)
              .describe("Share of new traces kept (a client's sampled trace is always kept: parent-based sampling)."),
            serviceName: z.string().min(1).default("switchyard").describe("`service.name` of the exported data."),
            metricsInterval: durationOption("60s", "Time between two exports of the MCP metrics."),
          })
          .optional()
          .describe(
            "Start the OpenTelemetry SDK with the OTLP/HTTP exporters. Without it the gateway starts no span unless the process registers an SDK of its own (library use).",
          ),
      })
      .prefault({})
      .describe("OpenTelemetry traces and metrics by the MCP semantic conventions."),
    health: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Run active health checks."),
        interval: durationOption("5s", "Time between two checks of a replica."),
        timeout: durationOption("2s", "A check not answered in this time fails."),
        path: z
          .string()
          .startsWith("/")
          .optional()
          .describe("Path to probe (default: the replica's MCP path). Any HTTP status below 500 is healthy."),
        unhealthyThreshold: z.number().int().positive().default(2).describe("Failed checks that mark a replica down."),
        healthyThreshold: z.number().int().positive().default(1).describe("Passed checks that bring it back."),
        readyRoutes: z
          .array(z.string().regex(ROUTE_NAME))
          .default([])
          .describe(
            "Routes without which this gateway is not ready: `/readyz` answers 503 while one has no healthy replica. By default no route decides readiness (one dead pool must not take every gateway out of its load balancer).",
          ),
        cooldown: durationOption(
          "10s",
          "With active checks off, a replica marked down by a failed connection is retried after this.",
        ),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        unreadyDelay: durationOption(
          "0s",
          "On SIGTERM, first answer `/readyz` 503 and keep serving for this long, so that load balancers stop sending new requests (Kubernetes: a few seconds, e.g. 5s), then drain.",
        ),
      })
      .prefault({}),
    resolver: z
      .strictObject({
        servers: z
          .array(z.string().regex(HOST_PORT_OR_HOST, "must be an address, or ADDRESS:PORT ([v6]:PORT)"))
          .default([])
          .describe(
            "DNS servers for `dns+` replica entries (`10.96.0.10`, `127.0.0.1:5353`); default: the system's (`/etc/resolv.conf`).",
          ),
        interval: duration
          .optional()
          .meta({ title: "duration" })
          .describe("How often DNS entries are resolved again; default: the records' TTL, bounded to 1s … 30s."),
        removeAfter: durationOption(
          "30s",
          "A DNS name that is gone (NXDOMAIN, no records) this long empties its replicas. A failed resolution (timeout, SERVFAIL) never does: the last answer is kept.",
        ),
      })
      .prefault({})
      .describe("How `dns+` replica entries are resolved: never on a request's path."),
    security: z
      .strictObject({
        allowedOrigins: z
          .array(z.string())
          .default([])
          .describe(
            "Origins allowed besides the gateway's own (`*` allows all). A request with any other Origin gets 403.",
          ),
        allowedHosts: z
          .array(z.string())
          .default([])
          .describe(
            "Host names accepted besides loopback names on a loopback listener; when set, enforced on any listener.",
          ),
        trustProxy: z
          .boolean()
          .default(false)
          .describe("Trust incoming X-Forwarded-* headers (append to them) instead of replacing them."),
        ssrf: z
          .strictObject({
            deny: z
              .array(cidr)
              .default(["168.63.129.16/32", "fd00:ec2::254/128"])
              .describe(
                "Addresses or CIDRs refused besides the non-public ranges (default: Azure's and AWS's metadata/DNS endpoints outside them).",
              ),
            allow: z
              .array(cidr)
              .default([])
              .describe("Addresses or CIDRs reachable although non-public (e.g. a private network you mean to open)."),
          })
          .prefault({})
          .describe("What guarded upstream connections may reach: only public unicast addresses, by default."),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    for (const [name, upstream] of Object.entries(c.upstreams)) {
      for (const [tool, target] of Object.entries(upstream.toolRoutes)) {
        const to = c.upstreams[target];
        if (!to || target === name || to.transport !== "streamable-http" || upstream.transport !== "streamable-http") {
          ctx.addIssue({
            code: "custom",
            path: ["upstreams", name, "toolRoutes", tool],
            message: "must name another streamable-http route of this configuration",
          });
        }
      }
    }
    for (const [name, v] of Object.entries(c.virtual)) {
      if (c.upstreams[name]) {
        ctx.addIssue({ code: "custom", path: ["virtual", name], message: "a route of `upstreams` has this name" });
      }
      const guarded = (v.auth ?? c.auth) !== undefined && v.auth !== false;
      for (const [i, member] of v.members.entries()) {
        const route = c.upstreams[member];
        if (!route || v.members.indexOf(member) !== i) {
          ctx.addIssue({
            code: "custom",
            path: ["virtual", name, "members", i],
            message: "must name a route of `upstreams`, once",
          });
          continue;
        }
        const memberGuarded = route.auth !== false && (route.auth ?? c.auth) !== undefined;
        if (memberGuarded && !guarded) {
          ctx.addIssue({
            code: "custom",
            path: ["virtual", name, "auth"],
            message: `member ${member} needs a token: the virtual server must need one too`,
          });
        }
        if (route.upstreamAuth === "passthrough") {
          ctx.addIssue({
            code: "custom",
            path: ["virtual", name, "members", i],
            message: `member ${member} takes the client's token as it came (upstreamAuth: passthrough): a virtual server's clients hold tokens for the virtual server, never passed on`,
          });
        }
      }
    }
    const tls = c.store.tls;
    const tlsStore = c.store.cluster
      ? c.store.cluster.every((n) => n.startsWith("rediss://"))
      : /^rediss(\+sentinel)?:\/\//.test(c.store.url);
    if ((tls.ca || tls.cert || tls.key || tls.servername) && !tlsStore) {
      ctx.addIssue({ code: "custom", path: ["store", "tls"], message: "TLS options need a rediss:// store URL" });
    }
    if (c.store.cluster && c.store.url !== "memory") {
      ctx.addIssue({
        code: "custom",
        path: ["store", "cluster"],
        message: "give store.url or store.cluster, not both",
      });
    }
    if (c.store.cluster && clusterNodesProblem(c.store.cluster) !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["store", "cluster"],
        message: clusterNodesProblem(c.store.cluster) as string,
      });
    }
    if (c.store.sentinel && !isSentinelUrl(c.store.url)) {
      ctx.addIssue({ code: "custom", path: ["store", "sentinel"], message: "needs a redis+sentinel:// store URL" });
    }
    if (Boolean(tls.cert) !== Boolean(tls.key)) {
      ctx.addIssue({ code: "custom", path: ["store", "tls"], message: "cert and key go together" });
    }
    if (c.affinity === "token" && c.tokens.keys.length === 0) {
      ctx.addIssue({ code: "custom", path: ["tokens", "keys"], message: "affinity: token needs at least one key" });
    }
  })
  .describe("Switchyard configuration");

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type UpstreamConfig = Config["upstreams"][string];
export type AuthConfig = z.output<typeof authSchema>;
