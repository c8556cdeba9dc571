/**
 * The `endpoint` event of the HTTP+SSE transport (2024-11-05): the first thing its stream says is where
 * to POST messages. The gateway finds that event in the upstream's bytes, checks the URL, and announces
 * its own in its place. Pure; the bytes around the event pass unchanged.
 */

import { parseField } from "./parse.js";

/** Bytes read while looking for the endpoint event, at most; past this the upstream is broken. */
export const MAX_ENDPOINT_SCAN = 64 * 1024;

export type EndpointScan =
  | { kind: "more" }
  | { kind: "too-large" }
  | {
      kind: "found";
      /** Bytes before the endpoint event (comments, other events), to pass unchanged. */
      before: Buffer;
      /** The event's data: the announced URL. */
      data: string;
      /** The event's `id`, if it had one. */
      id: string | undefined;
      /** Bytes after the event, to pass unchanged. */
      after: Buffer;
    };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Accumulates the head of an SSE stream until the first complete `event: endpoint`. Line ends are
 * CRLF, LF or CR; a field line is `name: value` (one space after the colon dropped); `:` lines are
 * comments; data lines join with `\n` (the SSE parsing rules).
 */
export class EndpointScanner {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EndpointScan {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const found = findEndpoint(this.buffered);
    if (found) return found;
    return this.buffered.length > MAX_ENDPOINT_SCAN ? { kind: "too-large" } : { kind: "more" };
  }
}

function findEndpoint(buf: Buffer): EndpointScan | undefined {
  let eventStart = 0;
  let lineStart = 0;
  let event = "";
  let id: string | undefined;
  let data: string[] = [];
  let i = 0;
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
      if (event === "endpoint" && data.length > 0) {
        return {
          kind: "found",
          before: buf.subarray(0, eventStart),
          data: data.join("\n"),
          id,
          after: buf.subarray(i),
        };
      }
      eventStart = i;
      event = "";
      id = undefined;
      data = [];
      continue;
    }
    const field = parseField(line);
    if (!field) continue;
    const [name, value] = field;
    if (name === "event") event = value;
    else if (name === "data") data.push(value);
    else if (name === "id") id = value;
  }
  return undefined;
}

/**
 * The path and query on the replica that an announced URL (relative to the stream's URL, or absolute)
 * names, or undefined when it points anywhere else than the replica itself (another origin is refused:
 * the gateway never becomes a way to reach an address an upstream chose).
 */
export function resolveEndpoint(announced: string, streamUrl: URL): string | undefined {
  let url: URL;
  try {
    url = new URL(announced.trim(), streamUrl);
  } catch {
    return undefined;
  }
  if (url.origin !== streamUrl.origin) return undefined;
  return `${url.pathname}${url.search}`;
}

/** The endpoint event the gateway announces instead. */
export function endpointEvent(url: string, id: string | undefined): Buffer {
  return Buffer.from(`${id === undefined ? "" : `id: ${id}\n`}event: endpoint\ndata: ${url}\n\n`);
}
