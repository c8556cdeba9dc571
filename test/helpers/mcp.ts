import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** The example server's `whoami`: the replica, the session's call count there, its session id hashed. */
export interface Whoami {
  replica: string;
  sessionCalls: number;
  /** The session's id as the replica knows it, hashed (`hashId`): what `Replica.sawSession` counts. */
  session: string;
}

export interface Session {
  client: Client;
  transport: StreamableHTTPClientTransport;
  whoami(): Promise<Whoami>;
  close(): Promise<void>;
}

/**
 * A real SDK client (legacy Streamable HTTP) connected to `url`, sending `headers` on every request.
 * `reconnect: false` keeps the client from reopening its GET stream when it breaks, so that nothing
 * touches the session until the test's next call.
 */
export async function connect(
  url: string,
  name = "test-client",
  headers?: Record<string, string>,
  options: { reconnect?: boolean } = {},
): Promise<Session> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(headers ? { requestInit: { headers } } : {}),
    ...(options.reconnect === false ? { reconnectionOptions: NO_RECONNECTION } : {}),
  });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    transport,
    async whoami() {
      const result = await client.callTool({ name: "whoami", arguments: {} });
      return result.structuredContent as unknown as Whoami;
    },
    close: () => client.close(),
  };
}

const NO_RECONNECTION = {
  maxRetries: 0,
  initialReconnectionDelay: 1000,
  maxReconnectionDelay: 1000,
  reconnectionDelayGrowFactor: 1,
};

/** An SDK client whose every HTTP request goes to the next gateway in turn (route `svc` by default). */
export async function roundRobinSession(bases: string[], route = "svc") {
  let next = 0;
  const transport = new StreamableHTTPClientTransport(new URL(`${bases[0]}/${route}/mcp`), {
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      url.host = new URL(bases[next++ % bases.length] as string).host;
      return fetch(url, init);
    },
  });
  const client = new Client({ name: "round-robin", version: "1.0.0" });
  await client.connect(transport);
  return {
    transport,
    close: () => client.close(),
    async whoami() {
      const r = await client.callTool({ name: "whoami", arguments: {} });
      return r.structuredContent as unknown as Whoami;
    },
  };
}

/** The SDK client's error for an HTTP 404 (session gone): what a client sees before it re-initializes. */
export function is404(err: unknown): boolean {
  return err instanceof StreamableHTTPError && err.code === 404;
}

/**
 * The SDK client's error for a 404 that the gateway itself answered with `code` (`SWY_SESSION_REPLICA_GONE`,
 * `SWY_SESSION_NOT_FOUND`): an upstream's own 404, or anything a replica said, does not match.
 */
export function isGateway404(...codes: string[]): (err: unknown) => boolean {
  return (err) => is404(err) && codes.some((code) => (err as Error).message.includes(`"code":"${code}"`));
}

export const INIT_BODY = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

export const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** An SDK v2 client speaking the modern protocol (2026-07-28): no session, every request on its own. */
export async function connectModern(url: string, headers: Record<string, string> = {}) {
  const client = new ModernClient(
    { name: "modern-test-client", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  await client.connect(new ModernTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** The headers and `_meta` of a hand-made modern request. */
export const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

export function modernHeaders(method: string, name?: string): Record<string, string> {
  return {
    ...MCP_HEADERS,
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": method,
    ...(name === undefined ? {} : { "mcp-name": name }),
  };
}

export function modernBody(method: string, params: Record<string, unknown> = {}, id: number | string = 1): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: MODERN_META } });
}
