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
 * `compute` with the last few answers remembered, by header value: clients send the same `Accept` and
 * `Content-Type` on every request, so each value is parsed once, not once per request and check.
 */
function remembered<T>(compute: (value: string) => T): (value: string) => T {
  const answers = new Map<string, T>();
  return (value) => {
    let answer = answers.get(value);
    if (answer === undefined) {
      answer = compute(value);
      if (answers.size >= 64) answers.clear();
      answers.set(value, answer);
    }
    return answer;
  };
}

/** What an Accept header admits of the two media types MCP answers in. */
export interface Acceptance {
  json: boolean;
  sse: boolean;
}

const ADMITS_ALL: Acceptance = { json: true, sse: true };
const acceptanceOf = remembered(
  (accept): Acceptance => ({ json: accepts(accept, "application/json"), sse: accepts(accept, "text/event-stream") }),
);

/** Whether an Accept header admits JSON, and SSE (a missing header admits both). */
export function acceptance(accept: string | undefined): Acceptance {
  return accept === undefined ? ADMITS_ALL : acceptanceOf(accept);
}

/** Whether an Accept header admits JSON or SSE (what a POST's answer may be). */
export function acceptsJsonOrSse(accept: string | undefined): boolean {
  const a = acceptance(accept);
  return a.json || a.sse;
}

/** Whether an Accept header admits a media type (exact, `type/*` or `*\/*`). A missing header admits all. */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined || accept.trim() === "") return true;
  const [type] = mediaType.split("/");
  return acceptedRanges(accept).some((r) => r === mediaType || r === "*/*" || r === `${type}/*`);
}

const jsonType = remembered((contentType) => {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
});

/** Content-Type is JSON (`application/json`, any parameters, or a `+json` suffix). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && jsonType(contentType);
}

export function isEventStream(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== "string") return false;
  return contentType.split(";")[0]?.trim().toLowerCase() === "text/event-stream";
}
