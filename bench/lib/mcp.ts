export const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2025-11-25",
};

export const CALL_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "echo", arguments: { text: "hello" } },
});

const INIT_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
});

/**
 * Open a legacy session through `url`; returns its id. A 503 (a backlogged upstream, still busy with the
 * previous run's queue, failed its health checks) is retried as a client would, for up to 30 s.
 */
export async function openSession(url: string, extra: Record<string, string> = {}): Promise<string> {
  const deadline = Date.now() + 30_000;
  const headers = { ...MCP_HEADERS, ...extra };
  let res = await fetch(url, { method: "POST", headers, body: INIT_BODY });
  while (res.status === 503 && Date.now() < deadline) {
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 500));
    res = await fetch(url, { method: "POST", headers, body: INIT_BODY });
  }
  await res.arrayBuffer();
  const sid = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !sid) throw new Error(`initialize through ${url} answered ${res.status}`);
  const ack = await fetch(url, {
    method: "POST",
    headers: { ...headers, "mcp-session-id": sid },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await ack.arrayBuffer();
  return sid;
}

const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** A stateless 2026-07-28 request: routing headers, `_meta` envelope, no session. */
export function modernLoad(method: string, name?: string) {
  const params =
    name === undefined ? { _meta: MODERN_META } : { name, arguments: { text: "hello" }, _meta: MODERN_META };
  return {
    headers: {
      ...MCP_HEADERS,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name === undefined ? {} : { "mcp-name": name }),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  };
}

/**
 * Through a Switchyard contender's admin API: tenant `bench` (allowed to reach 127.0.0.1, quotas out of
 * the way) with server `json` on `upstream`; returns the tenant's key.
 */
export async function benchTenant(base: string, adminToken: string, upstream: string): Promise<string> {
  const admin = async (path: string, body?: unknown) => {
    const res = await fetch(`${base}/admin/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.status !== 201) throw new Error(`admin ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const quotas = { rps: 1e9, burst: 1e9, sessions: 1e6, streams: 1e6 };
  await admin("/tenants", { id: "bench", allow: ["127.0.0.1/32"], quotas });
  const { key } = await admin("/tenants/bench/keys");
  await admin("/tenants/bench/servers", { name: "json", url: `http://${upstream}/json/mcp` });
  return key as string;
}
