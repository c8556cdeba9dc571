import type { JsonRpcId } from "../errors.js";
import { parseEvents } from "../sse/parse.js";

/** What the gateway needs to know of one JSON-RPC message. */
export interface RpcMessage {
  kind: "request" | "notification" | "response";
  id: JsonRpcId;
  method: string | undefined;
  params: Record<string, unknown> | undefined;
}

export type ParsedBody =
  | { ok: true; messages: RpcMessage[]; batch: boolean }
  | { ok: false; reason: "parse" | "invalid"; id: JsonRpcId };

function isId(v: unknown): v is string | number {
  return typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
}

function toMessage(value: unknown): RpcMessage | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== "2.0") return undefined;
  const params =
    m.params !== null && typeof m.params === "object" && !Array.isArray(m.params)
      ? (m.params as Record<string, unknown>)
      : undefined;
  if (typeof m.method === "string") {
    if (m.params !== undefined && (m.params === null || typeof m.params !== "object")) return undefined;
    if ("id" in m) {
      if (!isId(m.id)) return undefined;
      return { kind: "request", id: m.id, method: m.method, params };
    }
    return { kind: "notification", id: null, method: m.method, params };
  }
  if ("result" in m || "error" in m) {
    if (!(isId(m.id) || m.id === null)) return undefined;
    return { kind: "response", id: m.id as JsonRpcId, method: undefined, params: undefined };
  }
  return undefined;
}

/** Parse a POST body: one JSON-RPC message, or a batch (2025-03-26). Pure. */
export function parseBody(text: string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "parse", id: null };
  }
  return readMessages(value);
}

/** The JSON-RPC messages of a body already parsed as JSON (`parseBody` without the parse). Pure. */
export function readMessages(value: unknown): ParsedBody {
  if (Array.isArray(value)) {
    if (value.length === 0) return { ok: false, reason: "invalid", id: null };
    const messages: RpcMessage[] = [];
    for (const item of value) {
      const m = toMessage(item);
      if (!m) return { ok: false, reason: "invalid", id: null };
      messages.push(m);
    }
    return { ok: true, messages, batch: true };
  }
  const m = toMessage(value);
  if (!m) {
    const id = value && typeof value === "object" ? (value as { id?: unknown }).id : undefined;
    return { ok: false, reason: "invalid", id: isId(id) ? id : null };
  }
  return { ok: true, messages: [m], batch: false };
}

/**
 * The JSON-RPC message that answers request `id` in an upstream's answer: the JSON body itself, or the
 * SSE event that carries it (notifications before it are skipped).
 */
export function responseTo(body: Buffer, sse: boolean, id: unknown): Record<string, unknown> | undefined {
  const candidates = sse ? parseEvents(body).map((e) => e.data) : [body.toString("utf8")];
  for (const candidate of candidates) {
    try {
      const message = JSON.parse(candidate) as Record<string, unknown> | null;
      if (message && typeof message === "object" && message.id === id) return message;
    } catch {
      // Not JSON: not the answer.
    }
  }
  return undefined;
}

/** `_meta` keys of the modern protocol's request envelope (2026-07-28). */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
} as const;

/** A value of the message's `params._meta`. */
export function metaOf(message: RpcMessage | undefined, key: string): unknown {
  const meta = message?.params?._meta;
  return meta && typeof meta === "object" ? (meta as Record<string, unknown>)[key] : undefined;
}
