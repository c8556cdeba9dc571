import type { IncomingMessage } from "node:http";
import { hashId } from "../observability/hash.js";

/**
 * What an example server was asked: how many requests named each session (hashed, as the gateway's logs
 * do; Streamable HTTP's `Mcp-Session-Id` or HTTP+SSE's `sessionId` query parameter), and how many came
 * from each user agent (the gateway's health probes say `switchyard-health`), and which credentials
 * arrived in `Authorization` (hashed; "none" when there was none): what a gateway passed on.
 */
export class RequestLedger {
  private readonly sessions = new Map<string, number>();
  private readonly agents = new Map<string, number>();
  private readonly credentials = new Map<string, number>();

  record(req: IncomingMessage): void {
    const header = req.headers["mcp-session-id"];
    const query = req.url?.includes("sessionId=") ? new URL(req.url, "http://x").searchParams.get("sessionId") : null;
    const sid = typeof header === "string" ? header : query;
    if (sid) bump(this.sessions, hashId(sid));
    bump(this.agents, req.headers["user-agent"] ?? "");
    const auth = req.headers.authorization;
    bump(this.credentials, auth === undefined ? "none" : hashId(auth));
  }

  toJSON(): {
    sessions: Record<string, number>;
    userAgents: Record<string, number>;
    authorization: Record<string, number>;
  } {
    return {
      sessions: Object.fromEntries(this.sessions),
      userAgents: Object.fromEntries(this.agents),
      authorization: Object.fromEntries(this.credentials),
    };
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
