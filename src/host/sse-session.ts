import type { ServerResponse } from "node:http";
import { publish } from "../observability/events.js";
import { SseRelay } from "../sse/relay.js";
import type { Message, StdioChild } from "./stdio-child.js";

/**
 * A session of the HTTP+SSE transport (2024-11-05) and the one process that serves it: the client's
 * GET stream announces where to POST (`endpoint`), each POSTed message goes to the process's stdin,
 * and each line of its stdout comes back on the stream as a `message` event. The client leaving the
 * stream ends the session and its process.
 */
export class SseSession {
  private readonly relay: SseRelay;
  private over = false;

  constructor(
    readonly id: string,
    readonly child: StdioChild,
    private readonly res: ServerResponse,
    heartbeatMs: number,
    messagesPath: string,
    private readonly onEnd: (s: SseSession) => void,
  ) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
    this.relay = new SseRelay(res, heartbeatMs);
    this.relay.write(Buffer.from(`event: endpoint\ndata: ${messagesPath}?sessionId=${encodeURIComponent(id)}\n\n`));
    child.onMessage = (m) => {
      if (m.method === undefined) child.ready();
      this.relay.write(Buffer.from(`event: message\ndata: ${JSON.stringify(m)}\n\n`));
    };
    child.onGarbage = (why) => publish("fault", { where: "host", code: "SWY_HOST_GARBAGE", message: why });
    child.onExit = () => this.ended();
    res.once("close", () => void this.end());
  }

  get open(): boolean {
    return !this.over;
  }

  /** A POSTed message: to the process. */
  deliver(message: Message): void {
    this.child.send(message);
  }

  async end(): Promise<void> {
    this.relay.stop();
    await this.child.end();
    this.ended();
  }

  private ended(): void {
    if (this.over) return;
    this.over = true;
    this.relay.stop();
    if (!this.res.writableEnded) this.res.end();
    this.onEnd(this);
  }
}
