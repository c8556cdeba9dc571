/** The workloads that hold streams open: HTTP+SSE sessions, long GET streams, calls abandoned mid-answer. */
import { request } from "undici";
import { parseEvents } from "../../src/sse/parse.js";
import { attempt, done, failed, failureOf, type Req, refusal } from "./attempt.js";
import { dispatcher, Hung, jitter, LEGACY, REQUEST_TIMEOUT_MS, rpc, send } from "./http.js";
import { counterConsistent } from "./ledger.js";
import { type Clients, initialize, nextBase, type SessionState, whoami } from "./workloads.js";

/** How an HTTP+SSE stream ended: refused (recorded), broken or closed (the network), or a violation. */
type StreamEnd = "refused" | "closed" | "broken" | "failed";

/**
 * HTTP+SSE (2024-11-05): a stream on one gateway, its messages POSTed through every gateway in turn,
 * each answer on the stream from the session's own replica with its own counter.
 */
export async function sseClient(c: Clients): Promise<void> {
  const workload = "HTTP+SSE sessions";
  while (!c.stopped) {
    const stop = new AbortController();
    const pending = new Map<number, (result: Record<string, unknown> | undefined) => void>();
    let endpoint: string | undefined;
    let announced: () => void = () => {};
    const ready = new Promise<void>((r) => {
      announced = r;
    });
    const open: Req = { workload, fromMs: c.ledger.now() };
    const reading = (async (): Promise<StreamEnd> => {
      const res = await request(`${nextBase(c)}/sse/sse`, {
        dispatcher,
        headers: { accept: "text/event-stream" },
        signal: stop.signal,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: 0,
      });
      if (res.statusCode !== 200) {
        const body = Buffer.from(await res.body.arrayBuffer());
        refusal(c, open, { status: res.statusCode, headers: res.headers, body });
        return "refused";
      }
      let buf = Buffer.alloc(0);
      for await (const chunk of res.body) {
        buf = Buffer.concat([buf, chunk as Buffer]);
        const events = parseEvents(buf);
        for (const e of events) {
          if (e.event === "endpoint") {
            endpoint = e.data;
            done(c.ledger, open, "ok");
            announced();
          } else {
            const m = JSON.parse(e.data) as { id?: number; result?: Record<string, unknown> };
            if (typeof m.id === "number") pending.get(m.id)?.(m.result);
          }
        }
        // Keep only the unparsed tail.
        const last = events.at(-1);
        if (last) buf = buf.subarray(last.end);
      }
      return "closed";
    })().catch((err: unknown): StreamEnd => {
      if (stop.signal.aborted || failureOf(err) === "network") return "broken";
      failed(c.ledger, open, err);
      return "failed";
    });
    const opened = await Promise.race([ready.then(() => true), reading.then(() => false)]);
    if (!opened || !endpoint) {
      const end = await reading;
      // A stream that ended before its endpoint event: the client knows (its stream broke) and starts over.
      if (!opened && (end === "closed" || end === "broken")) done(c.ledger, open, "network");
      stop.abort();
      await jitter(100, 300);
      continue;
    }
    const path = new URL(endpoint, "http://x").pathname + new URL(endpoint, "http://x").search;
    const s: SessionState = { id: path, owner: undefined, known: 0, uncertain: 0, goodMs: c.ledger.now() };
    let id = 1;
    let alive = true;
    void reading.then(() => {
      alive = false;
      for (const resolve of pending.values()) resolve(undefined);
    });
    // One stream lives a few seconds, then a new session starts (streams come and go).
    const until = Date.now() + 3000 + Math.random() * 4000;
    while (!c.stopped && alive && Date.now() < until) {
      const callId = id++;
      const answered = new Promise<Record<string, unknown> | undefined>((resolve) => pending.set(callId, resolve));
      const ok = await attempt(c, workload, async (req) => {
        const res = await send(`${nextBase(c)}${path}`, {
          headers: { "content-type": "application/json" },
          body: rpc("tools/call", { name: "whoami", arguments: {} }, callId),
        });
        if (res.status !== 202) {
          if (refusal(c, req, res, s) === "reinit") alive = false;
          else s.uncertain++;
          return;
        }
        const timer = new Promise<"late">((r) => setTimeout(() => r("late"), REQUEST_TIMEOUT_MS).unref());
        const result = await Promise.race([answered, timer]);
        if (result === "late") throw new Hung(`no answer on the HTTP+SSE stream to message ${callId}`);
        if (result === undefined) {
          // The stream ended before the answer: the client knows (its stream broke) and starts over.
          done(c.ledger, req, "network");
          alive = false;
          return;
        }
        const { owner, count } = whoami(result.structuredContent as Record<string, unknown>);
        done(c.ledger, req, "ok");
        s.goodMs = c.ledger.now();
        if (s.owner === undefined) s.owner = owner;
        else if (owner !== s.owner) c.ledger.violate("silent-move", workload, `moved from ${s.owner} to ${owner}`);
        if (!counterConsistent(count, s.known, s.uncertain)) {
          c.ledger.violate("wrong-session", workload, `counter ${count} after ${s.known} (+${s.uncertain})`);
        }
        s.known = count;
        s.uncertain = 0;
      });
      pending.delete(callId);
      if (!ok) s.uncertain++;
      await jitter(30, 100);
    }
    stop.abort();
    await reading;
  }
}

/**
 * Long GET streams of legacy sessions, half of them read slowly (paused for seconds), and tool calls
 * abandoned mid-answer (the client goes away): each must end cleanly, the gateway must hold nothing.
 */
export async function streamClient(c: Clients, slow: boolean): Promise<void> {
  const workload = slow ? "slow-reader streams" : "long streams";
  while (!c.stopped) {
    const base = nextBase(c);
    const s = await initialize(c, workload, `${base}/legacy/mcp`);
    if (!s) {
      await jitter(200, 500);
      continue;
    }
    const stop = new AbortController();
    await attempt(c, workload, async (req) => {
      const res = await request(`${base}/legacy/mcp`, {
        dispatcher,
        method: "GET",
        headers: { accept: "text/event-stream", "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" },
        signal: stop.signal,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: 0,
      });
      if (res.statusCode !== 200) {
        const body = Buffer.from(await res.body.arrayBuffer());
        return void refusal(c, req, { status: res.statusCode, headers: res.headers, body }, s);
      }
      done(c.ledger, req, "ok");
      s.goodMs = c.ledger.now();
      if (slow) res.body.pause();
      setTimeout(() => stop.abort(), 2000 + Math.random() * 4000).unref();
      await new Promise<void>((resolve) => {
        res.body.once("close", resolve);
        res.body.once("error", () => resolve());
        if (!slow) res.body.resume();
        stop.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      res.body.destroy();
    });
    stop.abort();
    // A call abandoned mid-answer: the client leaves; the gateway cancels upstream.
    await attempt(c, "abandoned calls", async (req) => {
      const leave = new AbortController();
      setTimeout(() => leave.abort(), 150 + Math.random() * 300).unref();
      const res = await send(`${base}/legacy/mcp`, {
        headers: { ...LEGACY, "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" },
        body: rpc("tools/call", { name: "countdown", arguments: { steps: 5, delayMs: 200 } }, 99),
        signal: leave.signal,
      }).catch((err: unknown) => {
        if (!leave.signal.aborted) throw err;
        return undefined; // left, as intended
      });
      // Answered before the client left: a refusal or a lost session (the countdown takes 1 s).
      if (res && res.status !== 200) return void refusal(c, req, res, s);
      done(c.ledger, req, "ok");
    });
  }
}
