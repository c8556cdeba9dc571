import { errorMessage, type SwitchyardError } from "../errors.js";
import type { RequestContext } from "../gateway/context.js";
import { respondJson } from "../gateway/respond.js";
import { acceptance } from "../protocol/headers.js";
import { isObject, type Json } from "./json.js";
import type { Message } from "./member-link.js";
import { relayedId } from "./relayed-id.js";

/** A member's message as the client gets it: a request of the member's under an id that names it. */
export function relayed(member: string | undefined, m: Message): Message {
  return member !== undefined && m.method !== undefined && m.id !== undefined && m.id !== null
    ? { ...m, id: relayedId(member, m.id) }
    : m;
}

/**
 * The answer to one client request, as JSON — or as an SSE stream once a member sends something before
 * its answer (progress, a log message) that the client should see as it happens.
 */
export class Reply {
  private streaming = false;

  constructor(
    private readonly ctx: RequestContext,
    /** The client speaks 2026-07-28: every result says it is complete (`resultType`). */
    private readonly modern: boolean,
  ) {}

  /** The answer goes out as a stream, as the member's came (if the client accepts one). */
  stream(): void {
    const { res } = this.ctx;
    if (this.streaming || res.destroyed || !acceptance(this.ctx.req.headers.accept).sse) return;
    this.streaming = true;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  }

  /** A request of the gateway's own to the client, on the call's stream (which it opens). */
  ask(request: Message): void {
    this.stream();
    if (this.streaming && !this.ctx.res.destroyed)
      this.ctx.res.write(`event: message\ndata: ${JSON.stringify(request)}\n\n`);
  }

  /**
   * A member's message before its answer: it opens the stream (if the client accepts one; else it is
   * dropped). A request of the member's goes out under an id that names the member (`relayed-id.ts`).
   */
  message(member: string | undefined, message: Message): void {
    const { res } = this.ctx;
    const m = relayed(member, message);
    this.stream();
    if (!this.streaming || res.destroyed) return;
    res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
  }

  /** The answer (a modern client's result is stamped complete when it does not say). */
  answer(answer: Message, headers: Record<string, string> = {}): void {
    const result = answer.result;
    const stamp = this.modern && isObject(result) && result.resultType === undefined;
    this.write(
      JSON.stringify(stamp ? { ...answer, result: { ...(result as Json), resultType: "complete" } } : answer),
      headers,
    );
  }

  /**
   * A member's answer as it came (`text`): passed on unread, unless a modern client must be told the
   * result is complete — then read (`parse`) and stamped.
   */
  passOn(text: string, parse: () => Message): void {
    if (this.modern && !text.includes('"resultType"')) this.answer(parse());
    else this.write(text, {});
  }

  /** The response ended (answered, refused, cut) or the client left: a late answer has nowhere to go. */
  private get over(): boolean {
    return this.ctx.res.destroyed || this.ctx.res.writableEnded;
  }

  private write(body: string, headers: Record<string, string>): void {
    const { res } = this.ctx;
    if (this.over) return;
    if (this.streaming) {
      res.end(`event: message\ndata: ${body}\n\n`);
      return;
    }
    const head = ["content-type", "application/json", "content-length", String(Buffer.byteLength(body))];
    for (const name in headers) head.push(name, headers[name] as string);
    res.writeHead(200, head);
    res.end(body);
    // A cacheable answer the list cache missed: kept if its hints allow (`list-cache-stage.ts`).
    const capture = this.ctx.capture;
    if (capture) {
      capture.start(200, "application/json");
      capture.push(Buffer.from(body));
      capture.end();
    }
  }

  /** The stream ends without an answer (a cancelled request). */
  end(): void {
    const { res } = this.ctx;
    if (this.over) return;
    if (!this.streaming) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.end();
  }

  /** A JSON-RPC error of the gateway's, in the answer's place (HTTP 200 in a session, the table's status for a modern client). */
  error(error: SwitchyardError): void {
    if (this.over) return;
    this.ctx.code = error.code;
    const body = errorMessage(error, this.ctx.info?.rpcId ?? null);
    if (!this.streaming && this.modern && error.status !== 200) {
      respondJson(this.ctx, error.status, body, error.headers);
      return;
    }
    this.answer(body);
  }
}
