import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { MemoryEventStore } from "./event-store.js";

/**
 * The bundled example: a stateful MCP server (SDK v1) whose tools tell which replica answered and keep
 * per-session state — what `switchyard demo` runs twice. It speaks Streamable HTTP (`Mcp-Session-Id`
 * sessions, resumable streams) and the deprecated HTTP+SSE transport.
 */
export function createExampleMcpServer(replica: string): McpServer {
  const server = new McpServer({ name: "switchyard-example", version: "1.0.0" });
  let calls = 0;
  server.registerTool(
    "whoami",
    {
      description: "Tells which replica served this call, and how many calls this session has made.",
      outputSchema: { replica: z.string(), sessionCalls: z.number() },
    },
    async () => {
      calls++;
      const result = { replica, sessionCalls: calls };
      return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  server.registerTool(
    "echo",
    { description: "Echoes its text.", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  server.registerTool(
    "countdown",
    {
      description: "Sends `steps` progress notifications, `delayMs` apart, then answers (an SSE response).",
      inputSchema: { steps: z.number().int().min(1).max(1000), delayMs: z.number().int().min(0).max(60_000) },
    },
    async ({ steps, delayMs }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (extra.signal.aborted) break;
        await new Promise((r) => setTimeout(r, delayMs));
        if (token !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: i, total: steps },
          });
        }
      }
      return { content: [{ type: "text", text: `done on ${replica}` }] };
    },
  );
  server.registerTool(
    "test_reconnection",
    {
      description:
        "Closes this call's SSE stream midway and answers on the stream the client resumes with Last-Event-ID (SEP-1699 polling).",
    },
    async (extra) => {
      await new Promise((r) => setTimeout(r, 100));
      extra.closeSSEStream?.();
      await new Promise((r) => setTimeout(r, 200));
      return { content: [{ type: "text", text: `resumed on ${replica}` }] };
    },
  );
  return server;
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined);
      } catch (err) {
        reject(err);
      }
    });
    req.on("error", reject);
  });
}

function jsonError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}

export interface ExampleServer {
  /** Streamable HTTP endpoint. */
  url: string;
  /** HTTP+SSE stream URL (messages are POSTed to the URL it announces). */
  sseUrl: string;
  server: Server;
  sessions(): number;
  close(): Promise<void>;
}

/**
 * Serve the example, one SDK transport per session: Streamable HTTP at `http://HOST:PORT/mcp` (any path
 * ending in `/mcp`), with an event store so that broken streams resume; HTTP+SSE at `/sse` (any path
 * ending in `/sse`), messages at the `messages` URL next to it.
 */
export async function startExampleServer(options: {
  host: string;
  port: number;
  name: string;
}): Promise<ExampleServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sseTransports = new Map<string, SSEServerTransport>();
  const eventStore = new MemoryEventStore();

  const handleSse = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (req.method === "GET" && path.endsWith("/sse")) {
      const transport = new SSEServerTransport(`${path.slice(0, -4)}/messages`, res);
      sseTransports.set(transport.sessionId, transport);
      transport.onclose = () => sseTransports.delete(transport.sessionId);
      await createExampleMcpServer(options.name).connect(transport);
      return;
    }
    const sid = new URL(req.url ?? "/", "http://x").searchParams.get("sessionId") ?? "";
    const transport = sseTransports.get(sid);
    if (!transport) return jsonError(res, 404, -32001, "Session not found");
    const body = await readJson(req).catch(() => Symbol.for("bad"));
    if (body === Symbol.for("bad")) return jsonError(res, 400, -32700, "Parse error");
    await transport.handlePostMessage(req, res, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split("?")[0] ?? "";
    if (path.endsWith("/sse") || (req.method === "POST" && path.endsWith("/messages"))) {
      return handleSse(req, res, path);
    }
    if (!path.endsWith("/mcp")) return jsonError(res, 404, -32000, "Not found");
    const sid = req.headers["mcp-session-id"];
    const body = req.method === "POST" ? await readJson(req).catch(() => Symbol.for("bad")) : undefined;
    if (body === Symbol.for("bad")) return jsonError(res, 400, -32700, "Parse error");
    let transport = typeof sid === "string" ? transports.get(sid) : undefined;
    if (typeof sid === "string" && !transport) return jsonError(res, 404, -32001, "Session not found");
    if (!transport) {
      if (req.method !== "POST" || !isInitializeRequest(body)) {
        return jsonError(res, 400, -32000, "Bad Request: No valid session ID provided");
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore,
        // Priming events carry `retry:` (SEP-1699): a client whose stream closed polls back this soon.
        retryInterval: 500,
        onsessioninitialized: (id) => {
          transports.set(id, created);
        },
      });
      created.onclose = () => {
        if (created.sessionId) transports.delete(created.sessionId);
      };
      await createExampleMcpServer(options.name).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) jsonError(res, 500, -32603, "Internal error");
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/mcp`,
    sseUrl: `http://${host}:${addr.port}/sse`,
    server,
    sessions: () => transports.size + sseTransports.size,
    close: async () => {
      const all = [...transports.values(), ...sseTransports.values()];
      await Promise.all(all.map((t) => t.close().catch(() => {})));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
