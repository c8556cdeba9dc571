/**
 * One request of a workload and its one outcome. What the system under test did is an outcome (an answer,
 * a refusal, a 404 for a session, a JSON-RPC error, a refused or reset connection) or a violation (no
 * answer in time); any other exception is the harness's own failure — a violation, never an outcome.
 */
import { type Answer, Hung, shaped } from "./http.js";
import type { Ledger, Outcome } from "./ledger.js";

/** One request in flight: whose, and since when (ms since the run started). */
export interface Req {
  workload: string;
  fromMs: number;
}

/**
 * Errors of the clients' connections that a process killed or paused on purpose explains: refused,
 * reset, closed before the answer was whole. Anything else thrown is no outcome of the system under test.
 */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);

/** What an exception of a request means: a network outcome, a hang, or a bug of the harness. */
export function failureOf(err: unknown): "network" | "hang" | "harness" {
  if (err instanceof Hung) return "hang";
  const code = (err as { code?: unknown } | null)?.code;
  // The streams' own headersTimeout is REQUEST_TIMEOUT_MS: past it, the request hung.
  if (code === "UND_ERR_HEADERS_TIMEOUT") return "hang";
  return typeof code === "string" && NETWORK_CODES.has(code) ? "network" : "harness";
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  // Where in the harness: its first frame in bench/chaos, else the first frame.
  const frames = err.stack?.split("\n").slice(1) ?? [];
  const where = (frames.find((f) => f.includes("bench/chaos/")) ?? frames[0] ?? "").trim();
  return `${err.name}${typeof code === "string" ? ` ${code}` : ""}: ${err.message} ${where}`.trim();
}

/** An exception of a request: recorded as a `network` outcome, or as a violation (hang, harness). */
export function failed(ledger: Ledger, req: Req, err: unknown): void {
  const kind = failureOf(err);
  if (kind === "network") ledger.record(req.workload, "network", req.fromMs);
  else if (kind === "hang") ledger.violate("hang", req.workload, (err as Error).message);
  else ledger.violate("harness-exception", req.workload, describeError(err));
}

export function done(ledger: Ledger, req: Req, outcome: Outcome): void {
  ledger.record(req.workload, outcome, req.fromMs);
}

/** Run one request: `fn` records its outcome from the answer; an exception is classified by `failed`. */
export async function attempt(
  c: { ledger: Ledger },
  workload: string,
  fn: (req: Req) => Promise<void>,
): Promise<boolean> {
  const req: Req = { workload, fromMs: c.ledger.now() };
  try {
    await fn(req);
    return true;
  } catch (err) {
    failed(c.ledger, req, err);
    return false;
  }
}

/**
 * A non-2xx answer: 404 in a session → the client starts over (the loss may have happened any time since
 * the session's last good answer); else a refusal, which must be spec-shaped.
 */
export function refusal(
  c: { ledger: Ledger },
  req: Req,
  res: Answer,
  session?: { goodMs: number },
): "reinit" | "refused" {
  if (res.status === 404 && session) {
    c.ledger.record(req.workload, "reinit", Math.min(req.fromMs, session.goodMs), 404);
    return "reinit";
  }
  if (!shaped(res))
    c.ledger.violate("unshaped-error", req.workload, `HTTP ${res.status}: ${res.body.toString("utf8", 0, 80)}`);
  c.ledger.record(req.workload, "refused", req.fromMs, res.status);
  return "refused";
}
