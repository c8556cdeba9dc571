import type { IncomingMessage } from "node:http";
import { hashId } from "../observability/hash.js";

/**
 * What an example server was asked: how many requests named each session (hashed, as the gateway's logs
 * do; Streamable HTTP's `Mcp-Session-Id` or HTTP+SSE's `sessionId` query parameter), and how many came
 * from each user agent (the gateway's health probes say `switchyard-health`), and which credentials
 * arrived in `Authorization` (hashed; "none" when there was none) and, for a JWT bearer token, its
 * audience (read, not verified): what a gateway passed on.
 */
export class RequestLedger {
  private readonly sessions = new Map<string, number>();
  private readonly agents = new Map<string, number>();
  private readonly credentials = new Map<string, number>();
  private readonly audiences = new Map<string, number>();

  record(req: IncomingMessage): void {
    const header = req.headers["mcp-session-id"];
    const query = req.url?.includes("sessionId=") ? new URL(req.url, "http://x").searchParams.get("sessionId") : null;
    const sid = typeof header === "string" ? header : query;
    if (sid) bump(this.sessions, hashId(sid));
    bump(this.agents, req.headers["user-agent"] ?? "");
    const auth = req.headers.authorization;
    bump(this.credentials, auth === undefined ? "none" : hashId(auth));
    const aud = auth === undefined ? undefined : audienceOf(auth);
    if (aud !== undefined) bump(this.audiences, aud);
  }

  toJSON(): {
    sessions: Record<string, number>;
    userAgents: Record<string, number>;
    authorization: Record<string, number>;
    tokenAudiences: Record<string, number>;
  } {
    return {
      sessions: Object.fromEntries(this.sessions),
      userAgents: Object.fromEntries(this.agents),
      authorization: Object.fromEntries(this.credentials),
      tokenAudiences: Object.fromEntries(this.audiences),
    };
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The `aud` of a JWT bearer token, unverified; undefined for anything else. */
function audienceOf(authorization: string): string | undefined {
  const token = /^Bearer (\S+)$/i.exec(authorization)?.[1];
  const payload = token?.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const aud = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { aud?: unknown }).aud;
    return typeof aud === "string" ? aud : Array.isArray(aud) ? aud.join(" ") : undefined;
  } catch {
    return undefined;
  }
}
