import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { hashId } from "../observability/hash.js";
import { MemoryEventStore } from "./event-store.js";
import { RequestLedger } from "./request-ledger.js";

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
      outputSchema: { replica: z.string(), sessionCalls: z.number(), session: z.string() },
    },
    async (extra) => {
      calls++;
      // The session's id as this replica knows it, hashed (a gateway may show its client another id).
      const result = { replica, sessionCalls: calls, session: extra.sessionId ? hashId(extra.sessionId) : "" };
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

/** What this server does with a session id it does not know. */
export type UnknownSessions = "404" | "400" | "accept";

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
 * ending in `/sse`), messages at the `messages` URL next to it. `GET /_example/seen` tells which sessions
 * (hashed) and user agents this server was asked about — how a test proves that a request never reached it.
 *
 * A session id it does not know gets 404 (the specification's answer, and the default), 400 (what
 * `@modelcontextprotocol/server-everything` answers) or, with `accept`, is served anyway as if it were
 * stateless (a lenient server: a request moved here silently would succeed).
 */
export async function startExampleServer(options: {
  host: string;
  port: number;
  name: string;
  unknownSessions?: UnknownSessions;
}): Promise<ExampleServer> {
  const unknown = options.unknownSessions ?? "404";
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sseTransports = new Map<string, SSEServerTransport>();
  const eventStore = new MemoryEventStore();
  const ledger = new RequestLedger();

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
    if (!transport && unknown === "accept") {
      // Nothing to answer on: a lenient server takes the message and drops it.
      req.resume();
      res.writeHead(202).end("Accepted");
      return;
    }
    if (!transport) return unknownSession(res);
    const body = await readJson(req).catch(() => Symbol.for("bad"));
    if (body === Symbol.for("bad")) return jsonError(res, 400, -32700, "Parse error");
    await transport.handlePostMessage(req, res, body);
  };

  const unknownSession = (res: ServerResponse) =>
    unknown === "400"
      ? jsonError(res, 400, -32000, "Bad Request: No valid session ID provided")
      : jsonError(res, 404, -32001, "Session not found");

  /** A request for a session this server does not know, served without one (`accept`). */
  const serveStateless = async (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const stateless = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const server = createExampleMcpServer(options.name);
    res.on("close", () => {
      stateless.close().catch(() => {});
      server.close().catch(() => {});
    });
    await server.connect(stateless);
    await stateless.handleRequest(req, res, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split("?")[0] ?? "";
    ledger.record(req);
    if (req.method === "GET" && path === "/_example/seen") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(ledger.toJSON()));
      return;
    }
    if (path.endsWith("/sse") || (req.method === "POST" && path.endsWith("/messages"))) {
      return handleSse(req, res, path);
    }
    if (!path.endsWith("/mcp")) return jsonError(res, 404, -32000, "Not found");
    const sid = req.headers["mcp-session-id"];
    const body = req.method === "POST" ? await readJson(req).catch(() => Symbol.for("bad")) : undefined;
    if (body === Symbol.for("bad")) return jsonError(res, 400, -32700, "Parse error");
    let transport = typeof sid === "string" ? transports.get(sid) : undefined;
    if (typeof sid === "string" && !transport) {
      return unknown === "accept" ? serveStateless(req, res, body) : unknownSession(res);
    }
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
