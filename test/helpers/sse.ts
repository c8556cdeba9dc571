import { type ClientRequest, type IncomingMessage, request } from "node:http";

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

export interface SseStream {
  res: IncomingMessage;
  req: ClientRequest;
  /** Every byte received so far, as text. */
  raw(): string;
  /** Events received so far, in order. */
  events: SseEvent[];
  /** The first event (from `from` on) that matches, waiting for it up to `timeoutMs`. */
  next(match?: (e: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  /** Resolves when the response ended or broke. */
  ended: Promise<void>;
  close(): void;
}

/** Open an SSE response (GET, or a POST whose answer streams) and parse it as a client would. */
export function openSse(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? { accept: "text/event-stream" } },
      (res) => {
        let text = "";
        let parsedTo = 0;
        const events: SseEvent[] = [];
        const waiters = new Set<() => void>();
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          const blocks = text.slice(parsedTo).split(/\r\n\r\n|\n\n|\r\r/);
          blocks.pop();
          for (const block of blocks) {
            parsedTo += block.length;
            parsedTo += text.startsWith("\r\n\r\n", parsedTo) ? 4 : 2;
            const e: SseEvent = { event: "message", data: "", id: undefined, retry: undefined };
            const data: string[] = [];
            let fields = 0;
            for (const line of block.split(/\r\n|\n|\r/)) {
              if (line === "" || line.startsWith(":")) continue;
              fields++;
              const colon = line.indexOf(":");
              const name = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (name === "event") e.event = value;
              else if (name === "data") data.push(value);
              else if (name === "id") e.id = value;
              else if (name === "retry") e.retry = Number(value);
            }
            if (fields === 0) continue;
            e.data = data.join("\n");
            events.push(e);
          }
          for (const w of waiters) w();
        });
        const ended = new Promise<void>((done) => {
          res.on("end", done);
          res.on("close", done);
          res.on("error", () => done());
        });
        ended.then(() => {
          for (const w of waiters) w();
        });
        let isEnded = false;
        ended.then(() => {
          isEnded = true;
        });
        resolve({
          res,
          req,
          raw: () => text,
          events,
          ended,
          close: () => req.destroy(),
          next(match = () => true, timeoutMs = 5000, from = 0) {
            return new Promise((found, fail) => {
              const check = () => {
                const hit = events.slice(from).find(match);
                if (hit) {
                  cleanup();
                  found(hit);
                } else if (isEnded) {
                  cleanup();
                  fail(new Error(`stream ended without the event; got ${JSON.stringify(events)}`));
                }
              };
              const timer = setTimeout(() => {
                cleanup();
                fail(new Error(`no such event within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
              }, timeoutMs);
              const cleanup = () => {
                clearTimeout(timer);
                waiters.delete(check);
              };
              waiters.add(check);
              check();
            });
          },
        });
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
