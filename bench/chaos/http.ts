import { Agent, type Dispatcher, request } from "undici";
import { isEventStream } from "../../src/protocol/headers.js";
import { responseTo } from "../../src/protocol/jsonrpc.js";

/** The clients' connections: kept alive, many at once. */
export const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 2000 });

/** No request may take longer than this: past it, it hung (a violation). */
export const REQUEST_TIMEOUT_MS = 10_000;

export const LEGACY = { accept: "application/json, text/event-stream", "content-type": "application/json" };

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class Hung extends Error {}

/** One request, read whole, within the timeout: an answer, `Hung`, or a network error. */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<Answer> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
  try {
    const res = await request(url, {
      dispatcher,
      method: (init.method ?? "POST") as Dispatcher.HttpMethod,
      headers: init.headers ?? LEGACY,
      body: init.body,
      signal,
    });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  } catch (err) {
    if (timeout.aborted) throw new Hung(`no answer in ${REQUEST_TIMEOUT_MS} ms: ${url}`);
    throw err;
  }
}

export function rpc(method: string, params: Record<string, unknown>, id: number | string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

export const INIT = (id: number | string) =>
  rpc(
    "initialize",
    { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "chaos", version: "1" } },
    id,
  );

/** The JSON-RPC answer to `id`, from a JSON or SSE body. */
export function answerOf(
  res: Answer,
  id: unknown,
): { result?: Record<string, unknown>; error?: { code: number } } | undefined {
  const type = res.headers["content-type"];
  return responseTo(res.body, isEventStream(Array.isArray(type) ? type[0] : type), id) as
    | { result?: Record<string, unknown>; error?: { code: number } }
    | undefined;
}

/** A refusal must be spec-shaped: a JSON-RPC error object in a JSON body. */
export function shaped(res: Answer): boolean {
  try {
    const body = JSON.parse(res.body.toString("utf8")) as { jsonrpc?: string; error?: { code?: unknown } };
    return body.jsonrpc === "2.0" && typeof body.error?.code === "number";
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const jitter = (min: number, max: number) => sleep(min + Math.random() * (max - min));
