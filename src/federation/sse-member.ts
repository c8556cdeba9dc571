import type { Client, Dispatcher } from "undici";
import { LATEST_LEGACY_VERSION } from "../protocol/versions.js";
import { resolveEndpoint } from "../sse/endpoint.js";
import { SseReader } from "../sse/parse.js";
import type { Replica } from "../upstream/replica.js";
import { type Cancel, messagesOf } from "./member-exchange.js";
import { gatewayId, type Hello, MemberError, type MemberLink, type Message } from "./member-link.js";

type Headers = Record<string, string | string[] | undefined>;

/** Bytes of one event (or of the stream before its endpoint event) held before the member is treated as failing. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

interface Pending {
  resolve: (m: Message) => void;
  reject: (err: Error) => void;
  onMessage: ((m: Message) => void) | undefined;
}

/**
 * A virtual server's session with a member on the HTTP+SSE transport (2024-11-05): the member's stream,
 * held open by this gateway process, and the message URL it announced. Requests are POSTed there and
 * answered on the stream, matched by id; what answers nothing — a notification, the member's own
 * request — goes to the request in flight that asked for messages (one at a time), else to `listener`
 * (the client's notification stream). The session lives as long as the stream: it cannot move to
 * another gateway replica (each opens its own).
 */
export class SseMemberSession implements Dispatcher.DispatchHandler {
  private endpoint: string | undefined;
  private readonly reader = new SseReader();
  private readonly pending = new Map<string, Pending>();
  private ready!: { resolve: () => void; reject: (err: Error) => void };
  private readonly opened: Promise<void>;
  private controller: Dispatcher.DispatchController | undefined;
  private readonly client: Client;
  /** The stream ended: every request waiting on it fails, and the next opens another session. */
  closed = false;
  /** Settles when the stream ends. */
  readonly ended: Promise<void>;
  private end!: () => void;
  /** When a request last went through it (idle expiry). */
  usedAt = Date.now();
  readonly createdAt = Date.now();
  /** Where messages that answer no request go. */
  listener: ((m: Message) => void) | undefined;
  /** What `initialize` answered. */
  result: Record<string, unknown> = {};

  private constructor(
    private readonly link: MemberLink,
    readonly replica: Replica,
    private readonly creds: string[],
  ) {
    this.opened = new Promise((resolve, reject) => {
      this.ready = { resolve, reject };
    });
    this.opened.catch(() => {});
    this.ended = new Promise((resolve) => {
      this.end = resolve;
    });
    this.client = replica.streamClient();
  }

  /** Open the member's stream, learn its message URL, and do the handshake with the client's hello. */
  static async open(link: MemberLink, replica: Replica, hello: Hello, creds: string[]): Promise<SseMemberSession> {
    const session = new SseMemberSession(link, replica, creds);
    session.client.dispatch(
      {
        path: replica.path,
        method: "GET",
        headers: ["accept", "text/event-stream"].concat(link.ownHeaders(), creds),
        headersTimeout: link.headersTimeoutMs,
        bodyTimeout: 0,
      },
      session,
    );
    try {
      await session.opened;
      const init = await session.request({
        jsonrpc: "2.0",
        id: gatewayId(),
        method: "initialize",
        params: {
          protocolVersion: LATEST_LEGACY_VERSION,
          capabilities: hello.capabilities,
          clientInfo: hello.clientInfo,
        },
      });
      const result = init.result;
      if (result === null || typeof result !== "object")
        throw new MemberError(link.member, "unavailable", "refused initialize");
      session.result = result as Record<string, unknown>;
      await session.notify({ jsonrpc: "2.0", method: "notifications/initialized" });
      return session;
    } catch (err) {
      session.close();
      throw err instanceof MemberError ? err : new MemberError(link.member, "unavailable", (err as Error).message);
    }
  }

  /** POST a request and wait for its answer on the stream. */
  async request(
    message: Message,
    options: { onMessage?: (m: Message) => void; cancel?: Cancel } = {},
  ): Promise<Message> {
    if (this.closed) throw new MemberError(this.link.member, "session-gone", "its stream ended");
    this.usedAt = Date.now();
    const key = JSON.stringify(message.id);
    const answer = new Promise<Message>((resolve, reject) => {
      this.pending.set(key, { resolve, reject, onMessage: options.onMessage });
    });
    if (options.cancel) {
      options.cancel.abort = (reason) => {
        options.cancel = undefined;
        this.pending.get(key)?.reject(new Error(reason));
        this.pending.delete(key);
        void this.notify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: message.id, reason },
        });
      };
    }
    try {
      await this.notify(message);
    } catch (err) {
      this.pending.delete(key);
      throw err;
    }
    return answer;
  }

  /** POST a notification (or an answer to the member's own request): the member takes it with 202. */
  async notify(message: Message): Promise<void> {
    const posted = await this.link.post(this.replica, message, this.creds, { path: this.endpoint });
    if (posted.status >= 300)
      throw new MemberError(this.link.member, "session-gone", `its message URL answered ${posted.status}`);
  }

  close(): void {
    this.closed = true;
    this.controller?.abort(new Error("closed"));
    void this.client.destroy().catch(() => {});
    this.fail(new MemberError(this.link.member, "session-gone", "its stream ended"));
  }

  private fail(err: Error): void {
    this.closed = true;
    this.end();
    this.ready.reject(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.closed) controller.abort(new Error("closed"));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, _headers: Headers): void {
    if (status > 200) this.fail(new MemberError(this.link.member, "unavailable", `its stream answered ${status}`));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const events = this.reader.push(chunk);
    if (this.reader.held > MAX_EVENT_BYTES) {
      controller.abort(new Error("event too large"));
      return;
    }
    for (const event of events) {
      if (event.event === "endpoint" && this.endpoint === undefined) {
        this.endpoint = resolveEndpoint(event.data, this.replica.url);
        if (this.endpoint === undefined) {
          this.fail(new MemberError(this.link.member, "unavailable", "it announced a message URL elsewhere"));
          controller.abort(new Error("bad endpoint"));
          return;
        }
        this.ready.resolve();
        continue;
      }
      const [m] = messagesOf([event]);
      if (m === undefined) continue;
      const waiting = m.method === undefined ? this.pending.get(JSON.stringify(m.id)) : undefined;
      if (waiting) {
        this.pending.delete(JSON.stringify(m.id));
        waiting.resolve(m);
        continue;
      }
      const asking = [...this.pending.values()].filter((p) => p.onMessage !== undefined);
      if (asking.length === 1) asking[0]?.onMessage?.(m);
      else this.listener?.(m);
    }
  }

  onResponseEnd(): void {
    this.fail(new MemberError(this.link.member, "session-gone", "its stream ended"));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(new MemberError(this.link.member, "session-gone", err.message));
  }
}
