/**
 * The `endpoint` event of the HTTP+SSE transport (2024-11-05): the first thing its stream says is where
 * to POST messages. The gateway finds that event in the upstream's bytes, checks the URL, and announces
 * its own in its place. Pure; the bytes around the event pass unchanged.
 */

import { parseEvents } from "./parse.js";

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

/**
 * Accumulates the head of an SSE stream until the first complete `event: endpoint` (read by the one SSE
 * parser, `parse.ts`).
 */
export class EndpointScanner {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EndpointScan {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const e = parseEvents(this.buffered).find((ev) => ev.event === "endpoint");
    if (e) {
      return {
        kind: "found",
        before: this.buffered.subarray(0, e.start),
        data: e.data,
        id: e.id,
        after: this.buffered.subarray(e.end),
      };
    }
    return this.buffered.length > MAX_ENDPOINT_SCAN ? { kind: "too-large" } : { kind: "more" };
  }
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

/**
 * The endpoint event the gateway announces instead. Neither value can add a field or an event: CR and LF
 * in the URL are percent-encoded, and an id holding one (no upstream's id line can) is left out.
 */
export function endpointEvent(url: string, id: string | undefined): Buffer {
  const data = url.replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const idLine = id === undefined || /[\r\n]/.test(id) ? "" : `id: ${id}\n`;
  return Buffer.from(`${idLine}event: endpoint\ndata: ${data}\n\n`);
}
