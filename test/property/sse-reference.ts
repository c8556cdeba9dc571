/**
 * A reference SSE reader written from the WHATWG HTML "event stream interpretation" rules, apart from the
 * gateway's own parser: what an `EventSource` (or the SDK's reader) dispatches for a byte stream. The
 * properties compare what a client would see before and after the gateway touched the bytes.
 */

export interface ClientEvent {
  type: string;
  data: string;
  /** The last event ID buffer when the event was dispatched (it persists across events). */
  lastEventId: string;
}

export interface ClientView {
  events: ClientEvent[];
  /** The last event ID buffer at the end of the stream (what a reconnecting client would send). */
  lastEventId: string;
}

/** Reads the whole stream: UTF-8 decoding (a leading BOM is dropped), then the spec's line rules. */
export function clientView(bytes: Uint8Array): ClientView {
  const text = new TextDecoder("utf-8").decode(bytes);
  const events: ClientEvent[] = [];
  let data = "";
  let type = "";
  let lastEventId = "";
  let pos = 0;
  while (pos < text.length) {
    let end = pos;
    while (end < text.length && text[end] !== "\r" && text[end] !== "\n") end++;
    // A line without its end is not processed (the stream ended inside it).
    if (end === text.length) break;
    const line = text.slice(pos, end);
    pos = end + (text[end] === "\r" && text[end + 1] === "\n" ? 2 : 1);
    if (line === "") {
      if (data !== "") {
        events.push({ type: type === "" ? "message" : type, data: data.slice(0, -1), lastEventId });
      }
      data = "";
      type = "";
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") type = value;
    else if (name === "data") data += `${value}\n`;
    else if (name === "id" && !value.includes("\u0000")) lastEventId = value;
  }
  return { events, lastEventId };
}

/** Bytes cut at the given offsets (sorted, deduplicated; out-of-range ones ignored). */
export function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    if (p <= prev) continue;
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}
