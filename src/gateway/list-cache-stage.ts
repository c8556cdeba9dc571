import { hash } from "node:crypto";
import { ListCache } from "../cache/list-cache.js";
import type { Config } from "../config/schema.js";
import { SwitchyardError } from "../errors.js";
import { publish } from "../observability/events.js";
import { CACHEABLE_METHODS, cacheDirective, cacheKey } from "../protocol/cacheable.js";
import { acceptance, isEventStream } from "../protocol/headers.js";
import { responseTo } from "../protocol/jsonrpc.js";
import { hasEnvelope, routingHeaderMismatch } from "../protocol/routing-headers.js";
import { ANONYMOUS, type RequestContext, routeName } from "./context.js";
import type { GatewayState } from "./state.js";

export function createListCache(config: Config): ListCache | undefined {
  const c = config.cache;
  return c.enabled ? new ListCache(c.maxEntries, c.maxBytes) : undefined;
}

/**
 * The authorization context of a request, for `private` answers: the principal and the credential the
 * upstream will see. Undefined when there is none to tell clients apart (then private answers are not kept).
 */
function authorizationContext(ctx: RequestContext): string | undefined {
  const auth = ctx.req.headers.authorization;
  if (ctx.principal === ANONYMOUS && auth === undefined) return undefined;
  const credential = auth === undefined ? "" : hash("sha256", auth, "base64url");
  return `${ctx.principal}\u0000${credential}`;
}

/** Cache keys of the two scopes. A public answer fetched with credentials is not served to a request without. */
function keys(ctx: RequestContext, question: string): { public: string; private: string | undefined } {
  const route = routeName(ctx) ?? "";
  const auth = authorizationContext(ctx);
  return {
    public: `${route}\u0000pub${ctx.req.headers.authorization === undefined ? 0 : 1}\u0000${question}`,
    private: auth === undefined ? undefined : `${route}\u0000priv\u0000${auth}\u0000${question}`,
  };
}

/**
 * Stage: a modern-protocol list request (`tools/list`, `resources/list`, …) answered from the shared
 * cache when a fresh answer is kept — after its routing headers were checked against the body (the
 * server would have refused a mismatch). On a miss the request goes on, and `ctx.capture` keeps the
 * answer if its `ttlMs`/`cacheScope` allow. Returns true when answered here.
 */
export function serveFromCache(ctx: RequestContext, gw: GatewayState): boolean {
  const cache = gw.cache;
  const info = ctx.info;
  const message = ctx.messages[0];
  if (!cache || !info || !message || message.kind !== "request" || ctx.messages.length !== 1) return false;
  if (message.method === undefined || !CACHEABLE_METHODS.has(message.method) || ctx.endpoint !== "mcp") return false;
  // A list filtered for this token is neither served from nor kept in the shared cache.
  if (ctx.listFilter) return false;
  const route = routeName(ctx) ?? "";
  if (info.era !== "modern" || !hasEnvelope(message) || !acceptance(ctx.req.headers.accept).json) {
    publish("cache", { route, method: message.method, result: "bypass" });
    return false;
  }
  const mismatch = routingHeaderMismatch(ctx.req.headers, message);
  if (mismatch !== undefined) throw new SwitchyardError("SWY_HEADER_MISMATCH", { detail: mismatch });
  const question = cacheKey(message);
  const k = keys(ctx, question);
  const now = Date.now();
  let key = k.public;
  let hit = cache.get(key);
  if (!hit && k.private !== undefined) {
    key = k.private;
    hit = cache.get(key);
  }
  if (!hit) {
    publish("cache", { route, method: message.method, result: "miss" });
    ctx.capture = new AnswerCapture(cache, k, message.id, gw.config.cache.maxEntryBytes, gw.config.cache.maxTtl);
    return false;
  }
  publish("cache", { route, method: message.method, result: "hit" });
  const remaining = Math.max(1, hit.expiresAt - now);
  const id = typeof message.id === "number" ? String(message.id) : JSON.stringify(message.id);
  const body = `{"jsonrpc":"2.0","id":${id},"result":{"ttlMs":${remaining}${hit.tail === "}" ? "}" : `,${hit.tail}`}}`;
  ctx.res.writeHead(200, [
    "content-type",
    "application/json",
    "content-length",
    String(Buffer.byteLength(body)),
    "x-switchyard-cache",
    "hit",
  ]);
  ctx.res.end(body);
  return true;
}

/** Keeps a copy of an answer as it streams to the client, and stores it at its end if it may be kept. */
export class AnswerCapture {
  private chunks: Buffer[] | undefined;
  private size = 0;
  private sse = false;

  constructor(
    private readonly cache: ListCache,
    private readonly keys: { public: string; private: string | undefined },
    private readonly id: unknown,
    private readonly maxBytes: number,
    private readonly maxTtlMs: number,
  ) {}

  /** The answer's head: only a 200 in JSON or SSE is kept. */
  start(status: number, contentType: string | string[] | undefined): void {
    const type = Array.isArray(contentType) ? contentType[0] : contentType;
    this.sse = isEventStream(type);
    if (status === 200 && (this.sse || /^application\/json\b/i.test(type ?? ""))) this.chunks = [];
  }

  push(chunk: Buffer): void {
    if (!this.chunks) return;
    this.size += chunk.length;
    if (this.size > this.maxBytes) this.chunks = undefined;
    else this.chunks.push(chunk);
  }

  end(): void {
    if (!this.chunks) return;
    const body = Buffer.concat(this.chunks);
    this.chunks = undefined;
    const result = responseTo(body, this.sse, this.id)?.result;
    const directive = cacheDirective(result);
    if (!directive) return;
    const key = directive.scope === "public" ? this.keys.public : this.keys.private;
    if (key === undefined) return;
    const { ttlMs: _, ...rest } = result as Record<string, unknown>;
    this.cache.set(key, JSON.stringify(rest).slice(1), Math.min(directive.ttlMs, this.maxTtlMs));
  }
}
