import type { Dispatcher } from "undici";
import { isEventStream } from "../protocol/headers.js";
import { type SseEvent, SseReader } from "../sse/parse.js";
import type { Message } from "./member-link.js";

type Headers = Record<string, string | string[] | undefined>;

/** A member's answer read whole is bounded: past it the member is treated as failing. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The JSON-RPC messages of SSE events (`message` events whose data is JSON; the rest skipped). */
export function messagesOf(events: readonly SseEvent[]): Message[] {
  const out: Message[] = [];
  for (const event of events) {
    if (event.event !== "message" || event.data === "") continue;
    try {
      out.push(JSON.parse(event.data) as Message);
    } catch {}
  }
  return out;
}

/** What came back: the status and headers, and the answer — a JSON body's text, or the SSE message that answers. */
export interface Received {
  status: number;
  headers: Headers;
  /** The body of a JSON answer, as it came. */
  text: string | undefined;
  /** The message that answers the request, from an SSE stream. */
  answer: Message | undefined;
}

/** What the caller may do while the exchange runs: stop it (a cancellation, the client leaving). */
export interface Cancel {
  abort?: (reason: string) => void;
  /** Set once it was stopped. */
  aborted?: boolean;
}

/**
 * One request to a member, as undici's dispatch handler: the answer collected whole when it is JSON,
 * read event by event when it is SSE — each message before the answer to `id` handed to `onMessage`
 * as it arrives, the answer ending the exchange (the rest of the stream is let go). No stream objects,
 * no abort signal: the hot path of a routed call costs what a proxied one does.
 */
export class MemberExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: Headers = {};
  private chunks: Buffer[] = [];
  private size = 0;
  private sse = false;
  private reader: SseReader | undefined;
  private settled = false;
  private aborted: string | undefined;
  readonly done: Promise<Received>;
  private resolve!: (r: Received) => void;
  private reject!: (err: Error) => void;

  constructor(
    private readonly id: unknown,
    private readonly onMessage: ((m: Message) => void) | undefined,
    private readonly onStream: (() => void) | undefined,
    cancel: Cancel | undefined,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (cancel) {
      cancel.abort = (reason) => {
        cancel.aborted = true;
        this.abort(reason);
      };
    }
  }

  private abort(reason: string): void {
    this.aborted = reason;
    this.controller?.abort(new Error(reason));
    this.fail(new Error(reason));
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }

  private finish(answer: Message | undefined, text: string | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve({ status: this.status, headers: this.headers, text, answer });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted !== undefined) controller.abort(new Error(this.aborted));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Headers): void {
    if (status < 200) return;
    this.status = status;
    this.headers = headers;
    this.sse = status === 200 && isEventStream(headers["content-type"]);
    if (this.sse) this.onStream?.();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (!this.sse) {
      this.size += chunk.length;
      if (this.size > MAX_MESSAGE_BYTES) {
        controller.abort(new Error("answer too large"));
        this.fail(new Error("answer too large"));
        return;
      }
      this.chunks.push(chunk);
      return;
    }
    this.reader ??= new SseReader();
    const events = this.reader.push(chunk);
    if (this.reader.held > MAX_MESSAGE_BYTES) {
      controller.abort(new Error("event too large"));
      this.fail(new Error("event too large"));
      return;
    }
    for (const m of messagesOf(events)) {
      if (m.id === this.id && m.method === undefined && ("result" in m || "error" in m)) {
        this.finish(m, undefined);
        // The stream has said what it had to: let it go (a legacy server ends it there anyway).
        controller.abort(new Error("answered"));
        return;
      }
      this.onMessage?.(m);
    }
  }

  onResponseEnd(): void {
    if (this.sse) this.finish(undefined, undefined);
    else this.finish(undefined, Buffer.concat(this.chunks, this.size).toString("utf8"));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }
}
