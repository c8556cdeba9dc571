import { randomUUID } from "node:crypto";
import { attempt, done, failureOf, type Req, refusal } from "./attempt.js";
import { answerOf, INIT, jitter, LEGACY, rpc, send, sleep } from "./http.js";
import { counterConsistent, type Ledger } from "./ledger.js";

export interface Clients {
  ledger: Ledger;
  /** Gateway base URLs: each client request goes to the next one (they share the session store). */
  bases: string[];
  keys: Record<"quiet" | "noisy", string>;
  stopped: boolean;
}

let turn = 0;
export const nextBase = (c: Clients) => c.bases[turn++ % c.bases.length] as string;

export interface SessionState {
  id: string;
  /** The replica (or HA node) that answered first. */
  owner: string | undefined;
  /** Calls known to have run (the server's counter after them). */
  known: number;
  /** Calls whose outcome the client could not know. */
  uncertain: number;
  /** When the session last answered as expected (ms since the run started). */
  goodMs: number;
}

/** A new session: `initialize`, then `notifications/initialized` (two requests, an outcome each). */
export async function initialize(
  c: Clients,
  workload: string,
  url: string,
  headers = {},
): Promise<SessionState | undefined> {
  let state: SessionState | undefined;
  let retryAfterMs = 0;
  await attempt(c, workload, async (req) => {
    const res = await send(url, { headers: { ...LEGACY, ...headers }, body: INIT(0) });
    const sid = res.headers["mcp-session-id"];
    if (res.status !== 200 || typeof sid !== "string") {
      // A client that is told when to come back (503 + Retry-After: Redis electing a primary) waits.
      retryAfterMs = Math.min(2000, 1000 * Number(res.headers["retry-after"] ?? 0) || 0);
      return void refusal(c, req, res);
    }
    done(c.ledger, req, "ok");
    state = { id: sid, owner: undefined, known: 0, uncertain: 0, goodMs: c.ledger.now() };
  });
  const session = state;
  if (!session) {
    if (retryAfterMs > 0) await sleep(retryAfterMs);
    return undefined;
  }
  await attempt(c, workload, async (req) => {
    const res = await send(url, {
      headers: { ...LEGACY, ...headers, "mcp-session-id": session.id, "mcp-protocol-version": "2025-11-25" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    if (res.status !== 202) {
      if (refusal(c, req, res, session) === "reinit") state = undefined;
      return;
    }
    done(c.ledger, req, "ok");
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
    const ok = await attempt(c, workload, async (req) => {
      const res = await send(url, {
        headers: { ...LEGACY, ...options.headers, "mcp-session-id": session.id, "mcp-protocol-version": "2025-11-25" },
        body: rpc("tools/call", { name: tool, arguments: {} }, callId),
      });
      if (res.status !== 200) {
        if (res.status === 429 && options.expectOwner !== undefined)
          c.ledger.violate("wrong-tenant", workload, "rate-limited below its own quota");
        if (refusal(c, req, res, session) === "reinit") s = undefined;
        else session.uncertain++;
        return;
      }
      const answer = answerOf(res, callId);
      if (!answer) {
        c.ledger.violate("wrong-session", workload, `no answer to request ${callId} in a 200`);
        return;
      }
      if (answer.error) {
        done(c.ledger, req, "rpc-error");
        session.uncertain++;
        return;
      }
      const { owner, count, session: seen } = read(answer.result?.structuredContent as Record<string, unknown>);
      done(c.ledger, req, "ok");
      session.goodMs = c.ledger.now();
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

export const whoami = (r: Record<string, unknown>) => ({ owner: String(r.replica), count: Number(r.sessionCalls) });

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
    await attempt(c, workload, async (req) => {
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
      if (res.status !== 200) return void refusal(c, req, res);
      const answer = answerOf(res, callId);
      const text = JSON.stringify(answer?.result ?? answer?.error ?? null);
      if (answer?.error) return done(c.ledger, req, "rpc-error");
      if (!text.includes(nonce))
        c.ledger.violate("wrong-session", workload, `answer without its nonce: ${text.slice(0, 80)}`);
      done(c.ledger, req, "ok");
    });
    await jitter(10, 60);
  }
}

/** A burst far above one tenant's quota: it gets 429s; the quiet tenant's loop must see none. */
export async function tenantBurst(c: Clients, requests: number): Promise<{ ok: number; limited: number }> {
  let ok = 0;
  let limited = 0;
  const workload = "tenant burst";
  const one = () =>
    attempt(c, workload, async (req: Req) => {
      const res = await send(`${nextBase(c)}/noisy/s1/mcp`, {
        headers: { ...LEGACY, authorization: `Bearer ${c.keys.noisy}` },
        body: INIT(1),
      });
      if (res.status === 429) limited++;
      else if (res.status === 200) ok++;
      if (res.status === 200) done(c.ledger, req, "ok");
      else refusal(c, req, res);
      const sid = res.headers["mcp-session-id"];
      if (typeof sid === "string") {
        // Not counted: tidying up, so that the tenant's server does not accumulate sessions.
        await send(`${nextBase(c)}/noisy/s1/mcp`, {
          method: "DELETE",
          headers: {
            authorization: `Bearer ${c.keys.noisy}`,
            "mcp-session-id": sid,
            "mcp-protocol-version": "2025-11-25",
          },
        }).catch((err: unknown) => {
          if (failureOf(err) !== "network") throw err;
        });
      }
    });
  for (let i = 0; i < requests; i += 50) await Promise.all(Array.from({ length: Math.min(50, requests - i) }, one));
  return { ok, limited };
}
