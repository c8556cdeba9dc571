import { randomUUID } from "node:crypto";
import { request } from "undici";
import { parseEvents } from "../../src/sse/parse.js";
import {
  type Answer,
  answerOf,
  dispatcher,
  Hung,
  INIT,
  jitter,
  LEGACY,
  REQUEST_TIMEOUT_MS,
  rpc,
  send,
  shaped,
} from "./http.js";
import { counterConsistent, type Ledger } from "./ledger.js";

export interface Clients {
  ledger: Ledger;
  /** Gateway base URLs: each client request goes to the next one (they share the session store). */
  bases: string[];
  keys: Record<"quiet" | "noisy", string>;
  stopped: boolean;
}

let turn = 0;
const nextBase = (c: Clients) => c.bases[turn++ % c.bases.length] as string;

/**
 * Run one request: its outcome is recorded by `fn` when an answer came; a request that hung is a
 * violation; a refused or reset connection (a gateway killed on purpose) is a network outcome.
 */
async function attempt(c: Clients, workload: string, fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    if (err instanceof Hung) c.ledger.violate("hang", workload, err.message);
    else c.ledger.record(workload, "network");
    return false;
  }
}

/** A non-2xx answer: 404 in a session → the client starts over; else a refusal, which must be spec-shaped. */
function refusal(c: Clients, workload: string, res: Answer, inSession: boolean): "reinit" | "refused" {
  if (res.status === 404 && inSession) {
    c.ledger.record(workload, "reinit");
    return "reinit";
  }
  if (!shaped(res))
    c.ledger.violate("unshaped-error", workload, `HTTP ${res.status}: ${res.body.toString("utf8", 0, 80)}`);
  c.ledger.refused(workload, res.status);
  return "refused";
}

interface SessionState {
  id: string;
  /** The replica (or HA node) that answered first. */
  owner: string | undefined;
  /** Calls known to have run (the server's counter after them). */
  known: number;
  /** Calls whose outcome the client could not know. */
  uncertain: number;
}

async function initialize(c: Clients, workload: string, url: string, headers = {}): Promise<SessionState | undefined> {
  let state: SessionState | undefined;
  await attempt(c, workload, async () => {
    const res = await send(url, { headers: { ...LEGACY, ...headers }, body: INIT(0) });
    const sid = res.headers["mcp-session-id"];
    if (res.status !== 200 || typeof sid !== "string") return void refusal(c, workload, res, false);
    c.ledger.record(workload, "ok");
    state = { id: sid, owner: undefined, known: 0, uncertain: 0 };
    await send(url, {
      headers: { ...LEGACY, ...headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
  });
  return state;
}

/**
 * A session calling a counting tool again and again through every gateway in turn: each answer must come
 * from the session's own replica (legacy: no silent move; `sessions: shared` may move) with the session's
 * own counter, one more than before.
 */
async function sessionLoop(
  c: Clients,
  workload: string,
  path: string,
  tool: string,
  read: (result: Record<string, unknown>) => { owner: string; count: number; session?: string },
  options: { mayMove: boolean; headers?: Record<string, string>; expectOwner?: string } = { mayMove: false },
): Promise<void> {
  let s: SessionState | undefined;
  let id = 1;
  while (!c.stopped) {
    const url = `${nextBase(c)}${path}`;
    if (!s) {
      s = await initialize(c, workload, url, options.headers);
      if (!s) await jitter(100, 300);
      continue;
    }
    const session = s;
    const callId = id++;
    const ok = await attempt(c, workload, async () => {
      const res = await send(url, {
        headers: { ...LEGACY, ...options.headers, "mcp-session-id": session.id, "mcp-protocol-version": "2025-11-25" },
        body: rpc("tools/call", { name: tool, arguments: {} }, callId),
      });
      if (res.status !== 200) {
        if (refusal(c, workload, res, true) === "reinit") s = undefined;
        else session.uncertain++;
        return;
      }
      const answer = answerOf(res, callId);
      if (!answer) {
        c.ledger.violate("wrong-session", workload, `no answer to request ${callId} in a 200`);
        return;
      }
      if (answer.error) {
        c.ledger.record(workload, "rpc-error");
        session.uncertain++;
        return;
      }
      const { owner, count, session: seen } = read(answer.result?.structuredContent as Record<string, unknown>);
      c.ledger.record(workload, "ok");
      if (seen !== undefined && seen !== session.id) {
        c.ledger.violate("wrong-session", workload, "answered in another session");
      }
      if (options.expectOwner !== undefined && owner !== options.expectOwner) {
        c.ledger.violate("wrong-tenant", workload, `answered by ${owner}, not ${options.expectOwner}`);
      }
      if (session.owner === undefined) session.owner = owner;
      else if (owner !== session.owner && !options.mayMove) {
        c.ledger.violate("silent-move", workload, `session moved from ${session.owner} to ${owner}`);
      }
      // A session adopted by another node (`sessions: shared`) runs in a new server object: the example's
      // in-memory counter starts again (app state that must survive a replica belongs in Redis).
      const adopted = options.mayMove && owner !== session.owner;
      if (options.mayMove) session.owner = owner;
      if (adopted && counterConsistent(count, 0, session.uncertain)) {
        // counted again from zero, after an adoption
      } else if (!counterConsistent(count, session.known, session.uncertain)) {
        c.ledger.violate(
          "wrong-session",
          workload,
          `counter ${count} after ${session.known} known calls (+${session.uncertain} uncertain)`,
        );
      }
      session.known = count;
      session.uncertain = 0;
    });
    if (!ok) session.uncertain++;
    await jitter(20, 80);
  }
}

const whoami = (r: Record<string, unknown>) => ({ owner: String(r.replica), count: Number(r.sessionCalls) });

export function legacyClient(c: Clients): Promise<void> {
  return sessionLoop(c, "legacy sessions", "/legacy/mcp", "whoami", whoami);
}

export function haClient(c: Clients): Promise<void> {
  return sessionLoop(
    c,
    "shared (switchyard/ha) sessions",
    "/ha/mcp",
    "increment",
    (r) => ({ owner: String(r.node), count: Number(r.count), session: String(r.session) }),
    { mayMove: true },
  );
}

/** A tenant below its quota: every call answered by its own server, never 429 (another tenant's burst). */
export function quietTenant(c: Clients): Promise<void> {
  return sessionLoop(c, "tenant sessions", "/quiet/s1/mcp", "whoami", whoami, {
    mayMove: false,
    headers: { authorization: `Bearer ${c.keys.quiet}` },
    expectOwner: "quiet",
  });
}

/** Stateless requests of the modern era: each answer must carry the request's own nonce. */
export async function modernClient(c: Clients): Promise<void> {
  const workload = "modern requests";
  let id = 1;
  while (!c.stopped) {
    const nonce = randomUUID();
    const callId = id++;
    await attempt(c, workload, async () => {
      const res = await send(`${nextBase(c)}/modern/mcp`, {
        headers: {
          ...LEGACY,
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "echo_region",
          "mcp-param-region": nonce,
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: callId,
          method: "tools/call",
          params: {
            name: "echo_region",
            arguments: { region: nonce },
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientInfo": { name: "chaos", version: "1" },
              "io.modelcontextprotocol/clientCapabilities": {},
            },
          },
        }),
      });
      if (res.status !== 200) return void refusal(c, workload, res, false);
      const answer = answerOf(res, callId);
      const text = JSON.stringify(answer?.result ?? answer?.error ?? null);
      if (answer?.error) return c.ledger.record(workload, "rpc-error");
      if (!text.includes(nonce))
        c.ledger.violate("wrong-session", workload, `answer without its nonce: ${text.slice(0, 80)}`);
      c.ledger.record(workload, "ok");
    });
    await jitter(10, 60);
  }
}

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
    const reading = (async () => {
      const res = await request(`${nextBase(c)}/sse/sse`, {
        dispatcher,
        headers: { accept: "text/event-stream" },
        signal: stop.signal,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: 0,
      });
      if (res.statusCode !== 200) {
        const body = Buffer.from(await res.body.arrayBuffer());
        refusal(c, workload, { status: res.statusCode, headers: res.headers, body }, false);
        return;
      }
      let buf = Buffer.alloc(0);
      for await (const chunk of res.body) {
        buf = Buffer.concat([buf, chunk as Buffer]);
        const events = parseEvents(buf);
        for (const e of events) {
          if (e.event === "endpoint") {
            endpoint = e.data;
            c.ledger.record(workload, "ok");
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
    })().catch(() => {});
    const opened = await Promise.race([ready.then(() => true), reading.then(() => false)]);
    if (!opened || !endpoint) {
      if (!opened) c.ledger.record(workload, "network");
      stop.abort();
      await jitter(100, 300);
      continue;
    }
    const path = new URL(endpoint, "http://x").pathname + new URL(endpoint, "http://x").search;
    const s: SessionState = { id: path, owner: undefined, known: 0, uncertain: 0 };
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
      const ok = await attempt(c, workload, async () => {
        const res = await send(`${nextBase(c)}${path}`, {
          headers: { "content-type": "application/json" },
          body: rpc("tools/call", { name: "whoami", arguments: {} }, callId),
        });
        if (res.status !== 202) {
          if (refusal(c, workload, res, true) === "reinit") alive = false;
          else s.uncertain++;
          return;
        }
        const timer = new Promise<"late">((r) => setTimeout(() => r("late"), REQUEST_TIMEOUT_MS).unref());
        const result = await Promise.race([answered, timer]);
        if (result === "late") throw new Hung(`no answer on the HTTP+SSE stream to message ${callId}`);
        if (result === undefined) {
          // The stream ended before the answer: the client knows (its stream broke) and starts over.
          c.ledger.record(workload, "network");
          alive = false;
          return;
        }
        const { owner, count } = whoami(result.structuredContent as Record<string, unknown>);
        c.ledger.record(workload, "ok");
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
    await attempt(c, workload, async () => {
      const res = await request(`${base}/legacy/mcp`, {
        dispatcher,
        method: "GET",
        headers: { accept: "text/event-stream", "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" },
        signal: stop.signal,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: 0,
      }).catch((err: unknown) => {
        if (stop.signal.aborted) return undefined;
        throw err;
      });
      if (!res) return;
      if (res.statusCode !== 200) {
        const body = Buffer.from(await res.body.arrayBuffer());
        return void refusal(c, workload, { status: res.statusCode, headers: res.headers, body }, true);
      }
      c.ledger.record(workload, "ok");
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
    await attempt(c, "abandoned calls", async () => {
      const leave = new AbortController();
      setTimeout(() => leave.abort(), 150 + Math.random() * 300).unref();
      await send(`${base}/legacy/mcp`, {
        headers: { ...LEGACY, "mcp-session-id": s.id, "mcp-protocol-version": "2025-11-25" },
        body: rpc("tools/call", { name: "countdown", arguments: { steps: 5, delayMs: 200 } }, 99),
        signal: leave.signal,
      }).catch((err: unknown) => {
        if (!leave.signal.aborted) throw err;
      });
      c.ledger.record("abandoned calls", "ok");
    });
  }
}

/** A burst far above one tenant's quota: it gets 429s; the quiet tenant's loop must see none. */
export async function tenantBurst(c: Clients, requests: number): Promise<{ ok: number; limited: number }> {
  let ok = 0;
  let limited = 0;
  const workload = "tenant burst";
  const one = () =>
    attempt(c, workload, async () => {
      const res = await send(`${nextBase(c)}/noisy/s1/mcp`, {
        headers: { ...LEGACY, authorization: `Bearer ${c.keys.noisy}` },
        body: INIT(1),
      });
      if (res.status === 429) limited++;
      else if (res.status === 200) ok++;
      if (res.status === 200) c.ledger.record(workload, "ok");
      else refusal(c, workload, res, false);
      const sid = res.headers["mcp-session-id"];
      if (typeof sid === "string") {
        await send(`${nextBase(c)}/noisy/s1/mcp`, {
          method: "DELETE",
          headers: {
            authorization: `Bearer ${c.keys.noisy}`,
            "mcp-session-id": sid,
            "mcp-protocol-version": "2025-11-25",
          },
        }).catch(() => {});
      }
    });
  for (let i = 0; i < requests; i += 50) await Promise.all(Array.from({ length: Math.min(50, requests - i) }, one));
  return { ok, limited };
}
