/** MCP header names (lower-case, as Node exposes them) and pure checks on their values. */
export const H = {
  sessionId: "mcp-session-id",
  protocolVersion: "mcp-protocol-version",
  method: "mcp-method",
  name: "mcp-name",
  lastEventId: "last-event-id",
} as const;

export const MAX_SESSION_ID_LENGTH = 256;

/** A session id is 1..256 visible ASCII characters (0x21–0x7E). */
export function isValidSessionId(value: string): boolean {
  if (value.length === 0 || value.length > MAX_SESSION_ID_LENGTH) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Media ranges of an Accept header, lower-cased, without parameters; q=0 ranges are dropped. */
export function acceptedRanges(accept: string | undefined): string[] {
  if (accept === undefined) return [];
  const out: string[] = [];
  for (const part of accept.split(",")) {
    const [range, ...params] = part.split(";");
    const type = range?.trim().toLowerCase();
    if (!type) continue;
    const refused = params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p));
    if (!refused) out.push(type);
  }
  return out;
}

/**
 * Whether an Accept header admits JSON or SSE (what a POST's answer may be). Clients send the same
 * Accept on every request: the last few answers are remembered.
 */
const acceptCache = new Map<string, boolean>();
export function acceptsJsonOrSse(accept: string | undefined): boolean {
  if (accept === undefined) return true;
  let ok = acceptCache.get(accept);
  if (ok === undefined) {
    ok = accepts(accept, "application/json") || accepts(accept, "text/event-stream");
    if (acceptCache.size >= 64) acceptCache.clear();
    acceptCache.set(accept, ok);
  }
  return ok;
}

/** Whether an Accept header admits a media type (exact, `type/*` or `*\/*`). A missing header admits all. */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined || accept.trim() === "") return true;
  const [type] = mediaType.split("/");
  return acceptedRanges(accept).some((r) => r === mediaType || r === "*/*" || r === `${type}/*`);
}

/** Content-Type is JSON (`application/json`, any parameters, or a `+json` suffix). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

export function isEventStream(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== "string") return false;
  return contentType.split(";")[0]?.trim().toLowerCase() === "text/event-stream";
}
