/** The SSE parser for the gateway's readers of upstream streams (whole buffers, not the relay). Pure. */

const LF = 0x0a;
const CR = 0x0d;

/** One field line → `[name, value]` (one space after the colon dropped); undefined for a comment. */
export function parseField(line: string): [string, string] | undefined {
  if (line.charCodeAt(0) === 0x3a) return undefined;
  const colon = line.indexOf(":");
  if (colon < 0) return [line, ""];
  const value = line.slice(colon + 1);
  return [line.slice(0, colon), value.charCodeAt(0) === 0x20 ? value.slice(1) : value];
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
  /** Byte offsets of the event in the buffer: from the end of the previous event to after its empty line. */
  start: number;
  end: number;
}

/**
 * The complete events of an SSE byte buffer, as a client's parser reads them: line ends CRLF, LF or CR,
 * an event ends at an empty line, data lines join with `\n`, an event without data is not dispatched,
 * and an unterminated last event is left out. `buf` is the stream from its start: a UTF-8 BOM there is
 * dropped (it stays in the first event's range).
 */
export function parseEvents(buf: Buffer): SseEvent[] {
  const events: SseEvent[] = [];
  let start = 0;
  let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  let lineStart = i;
  let event = "";
  let id: string | undefined;
  let data: string[] = [];
  while (i < buf.length) {
    const b = buf[i];
    if (b !== LF && b !== CR) {
      i++;
      continue;
    }
    const line = buf.toString("utf8", lineStart, i);
    i += b === CR && buf[i + 1] === LF ? 2 : 1;
    lineStart = i;
    if (line === "") {
      if (data.length > 0) events.push({ event: event || "message", data: data.join("\n"), id, start, end: i });
      start = i;
      event = "";
      id = undefined;
      data = [];
      continue;
    }
    const field = parseField(line);
    if (!field) continue;
    if (field[0] === "event") event = field[1];
    else if (field[0] === "data") data.push(field[1]);
    // An id with a NUL in it is ignored by clients (and so here).
    else if (field[0] === "id" && !field[1].includes("\u0000")) id = field[1];
  }
  return events;
}

/**
 * A stream read chunk by chunk: each chunk's complete events, the rest held for the next (an event
 * split across chunks is parsed once whole). `held` is what waits: a caller bounds it.
 */
export class SseReader {
  private rest: Buffer | undefined;

  push(chunk: Buffer): SseEvent[] {
    const buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    const events = parseEvents(buf);
    const last = events.at(-1);
    this.rest = last ? buf.subarray(last.end) : buf;
    return events;
  }

  get held(): number {
    return this.rest?.length ?? 0;
  }
}
