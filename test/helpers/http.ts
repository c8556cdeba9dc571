import { request } from "node:http";
import { isEventStream } from "../../src/protocol/headers.js";
import { responseTo } from "../../src/protocol/jsonrpc.js";
import { MCP_HEADERS } from "./mcp.js";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A plain HTTP request (node:http, no client-side processing), body collected whole. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "POST", headers: options.headers ?? MCP_HEADERS }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Headers of a request in a legacy session. */
export function sessionHeaders(sessionId: string): Record<string, string> {
  return { ...MCP_HEADERS, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" };
}

export function rpc(method: string, params: Record<string, unknown> = {}, id: number | null = 1): string {
  return JSON.stringify(id === null ? { jsonrpc: "2.0", method, params } : { jsonrpc: "2.0", id, method, params });
}

export function errorCode(res: RawResponse): { rpc: number; swy: string | undefined } {
  const body = JSON.parse(res.body.toString("utf8")) as { error: { code: number; data?: { code?: string } } };
  return { rpc: body.error.code, swy: body.error.data?.code };
}

/** The JSON-RPC answer to request `id` in a response, JSON or SSE. */
export function answerTo(res: RawResponse, id: unknown): { result?: Record<string, unknown>; error?: unknown } {
  return (responseTo(res.body, isEventStream(res.headers["content-type"]), id) ?? {}) as {
    result?: Record<string, unknown>;
    error?: unknown;
  };
}
