import { META, responseTo } from "../protocol/jsonrpc.js";
import { FIRST_MODERN_VERSION, LATEST_LEGACY_VERSION } from "../protocol/versions.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { Replica } from "../upstream/replica.js";

/** What a route's upstream says about itself, for the discovery documents. */
export interface UpstreamInfo {
  serverInfo: { name?: string; title?: string; version?: string; description?: string; websiteUrl?: string };
  protocolVersions: string[];
  capabilities: Record<string, unknown>;
  tools: Array<{ name: string; title?: string; description?: string }> | undefined;
  /** Epoch ms of the answer. */
  fetchedAt: number;
}

const CLIENT = { name: "switchyard-discovery", version: "1" };
const TIMEOUT_MS = 5000;
/** How the discovery requests name themselves to upstreams (they are the gateway's own, not a client's). */
export const USER_AGENT = "switchyard-discovery";

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  sessionId: string | undefined;
  message: Json | undefined;
}

/** One JSON-RPC call straight to a replica (not through the gateway); the answer, JSON or SSE. */
async function call(replica: Replica, headers: Record<string, string>, body: Json): Promise<Answer> {
  const res = await replica.pool.request({
    path: replica.path,
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "user-agent": USER_AGENT,
      ...headers,
    },
    body: JSON.stringify(body),
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const sse = String(res.headers["content-type"] ?? "").includes("text/event-stream");
  const message = responseTo(Buffer.from(await res.body.arrayBuffer()), sse, body.id);
  const sid = res.headers["mcp-session-id"];
  return { status: res.statusCode, sessionId: typeof sid === "string" ? sid : undefined, message };
}

function resultOf(answer: Answer): Json | undefined {
  const r = answer.message?.result;
  return answer.status === 200 && r && typeof r === "object" ? (r as Json) : undefined;
}

function toolsOf(result: Json | undefined): UpstreamInfo["tools"] {
  const tools = result?.tools;
  if (!Array.isArray(tools)) return undefined;
  return tools
    .filter((t): t is Json => !!t && typeof t === "object" && typeof (t as Json).name === "string")
    .map((t) => ({
      name: t.name as string,
      ...(typeof t.title === "string" ? { title: t.title } : {}),
      ...(typeof t.description === "string" ? { description: t.description } : {}),
    }));
}

const modernMeta = {
  [META.protocolVersion]: FIRST_MODERN_VERSION,
  [META.clientInfo]: CLIENT,
  [META.clientCapabilities]: {},
};

function modernHeaders(method: string): Record<string, string> {
  return { "mcp-protocol-version": FIRST_MODERN_VERSION, "mcp-method": method };
}

/**
 * Ask one replica who it is, in both eras: `server/discover` (2026-07-28) and a legacy `initialize`
 * (the session it opens is deleted at once); protocol versions are the union of what each says. With
 * `withTools`, its tool list too. Undefined when neither era answers.
 */
export async function fetchUpstreamInfo(replica: Replica, withTools: boolean): Promise<UpstreamInfo | undefined> {
  const versions = new Set<string>();
  let serverInfo: UpstreamInfo["serverInfo"] | undefined;
  let capabilities: Json = {};
  let tools: UpstreamInfo["tools"];

  const discover = await call(replica, modernHeaders("server/discover"), {
    jsonrpc: "2.0",
    id: 1,
    method: "server/discover",
    params: { _meta: modernMeta },
  }).catch(() => undefined);
  const discovered = discover && resultOf(discover);
  if (discovered && Array.isArray(discovered.supportedVersions)) {
    for (const v of discovered.supportedVersions) if (typeof v === "string") versions.add(v);
    const meta = discovered._meta as Json | undefined;
    serverInfo = (meta?.["io.modelcontextprotocol/serverInfo"] as UpstreamInfo["serverInfo"]) ?? undefined;
    capabilities = (discovered.capabilities as Json) ?? {};
    if (withTools) {
      const list = await call(
        replica,
        { ...modernHeaders("tools/list") },
        {
          jsonrpc: "2.0",
          id: 2,
          method: "tools/list",
          params: { _meta: modernMeta },
        },
      ).catch(() => undefined);
      tools = list && toolsOf(resultOf(list));
    }
  }

  const init = await call(
    replica,
    {},
    {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: LATEST_LEGACY_VERSION, capabilities: {}, clientInfo: CLIENT },
    },
  ).catch(() => undefined);
  const initialized = init && resultOf(init);
  if (init && initialized) {
    if (typeof initialized.protocolVersion === "string") versions.add(initialized.protocolVersion);
    serverInfo ??= initialized.serverInfo as UpstreamInfo["serverInfo"];
    if (Object.keys(capabilities).length === 0) capabilities = (initialized.capabilities as Json) ?? {};
    const session: Record<string, string> = init.sessionId
      ? { "mcp-session-id": init.sessionId, "mcp-protocol-version": String(initialized.protocolVersion) }
      : {};
    if (withTools && tools === undefined) {
      await call(replica, session, { jsonrpc: "2.0", method: "notifications/initialized" }).catch(() => undefined);
      const list = await call(replica, session, { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} }).catch(
        () => undefined,
      );
      tools = list && toolsOf(resultOf(list));
    }
    if (init.sessionId) {
      await replica.pool
        .request({
          path: replica.path,
          method: "DELETE",
          headers: { ...session, "user-agent": USER_AGENT },
          headersTimeout: TIMEOUT_MS,
        })
        .then((r) => r.body.dump())
        .catch(() => undefined);
    }
  }
  if (!serverInfo && versions.size === 0) return undefined;
  return {
    serverInfo: serverInfo ?? {},
    protocolVersions: [...versions].sort(),
    capabilities,
    tools,
    fetchedAt: Date.now(),
  };
}

/** Keeps each route's upstream info fresh in the background; documents read what is known, never wait. */
export class UpstreamInfoCache {
  private readonly known = new Map<string, UpstreamInfo>();
  private timer: NodeJS.Timeout | undefined;
  /** The first pass over the routes (documents asked before it ended wait for it a moment). */
  firstPass: Promise<void> = new Promise(() => {});

  constructor(
    private readonly pools: ReadonlyMap<string, UpstreamPool>,
    private readonly withTools: (route: string) => boolean,
    private readonly refreshMs: number,
  ) {}

  get(route: string): UpstreamInfo | undefined {
    return this.known.get(route);
  }

  start(): void {
    this.firstPass = this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass over the routes (Streamable HTTP ones: HTTP+SSE routes are described from configuration). */
  async refresh(): Promise<void> {
    await Promise.all(
      [...this.pools.values()].map(async (pool) => {
        if (pool.transport !== "streamable-http") return;
        const replica = pool.replicas.find((r) => r.healthy);
        if (!replica) return;
        const info = await fetchUpstreamInfo(replica, this.withTools(pool.name)).catch(() => undefined);
        if (info) this.known.set(pool.name, info);
      }),
    );
  }
}
