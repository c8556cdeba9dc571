import { type Finding, finding } from "./finding.js";

/** What the client saw of the diagnostic stream (times in ms on the client's clock, sentAt on the server's). */
export interface StreamObservation {
  /** The request headers the gateway received (credentials as `(present)`). */
  received: Record<string, string>;
  /** The `Mcp-Session-Id` the stream's response carried, as it arrived. */
  responseSessionId: string | undefined;
  contentEncoding: string | undefined;
  heartbeatMs: number;
  ticks: Array<{ sentAt: number; arrivedAt: number }>;
  /** When the idle period began (the last tick arrived) and ended (`end` arrived, or the stream was cut). */
  idleMs: number;
  ended: boolean;
  /** Ms from the last tick until the stream broke (when it did). */
  cutAfterMs: number | undefined;
  heartbeats: number;
}

/** Headers the check sends through the proxies, and expects the gateway to receive unchanged. */
export const ECHOED: Record<string, string> = {
  "mcp-session-id": "switchyard-check-echo",
  "mcp-protocol-version": "2025-11-25",
  "last-event-id": "switchyard-check-0",
  "mcp-method": "tools/call",
  "mcp-name": "switchyard-check",
  "mcp-param-check": "1",
  accept: "text/event-stream",
};

const SECONDS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Buffering: the ticks were sent `every` ms apart; a proxy that buffers delivers them together. Fail
 * when they arrive over less than half the time they took to send, or compressed.
 */
export function judgeBuffering(o: StreamObservation): Finding {
  const fix =
    "stream text/event-stream unbuffered and uncompressed: nginx `proxy_buffering off` (and no gzip for it), HAProxy no compression, Caddy `flush_interval -1`; see docs/deployment.md";
  if (o.contentEncoding !== undefined && o.contentEncoding !== "identity") {
    return finding("stream.buffering", "fail", `the event stream arrived compressed (${o.contentEncoding})`, { fix });
  }
  const first = o.ticks[0];
  const last = o.ticks.at(-1);
  if (!first || !last || o.ticks.length < 2) {
    return finding("stream.buffering", "fail", `only ${o.ticks.length} timed event(s) arrived`, { fix });
  }
  const sent = last.sentAt - first.sentAt;
  const arrived = last.arrivedAt - first.arrivedAt;
  const detail = `${o.ticks.length} events sent over ${sent} ms arrived over ${arrived} ms`;
  if (arrived < sent / 2) {
    return finding(
      "stream.buffering",
      "fail",
      "events arrive together: something between client and gateway buffers the stream",
      {
        detail,
        fix,
      },
    );
  }
  return finding("stream.buffering", "pass", "events arrive as they are sent (no buffering)", { detail });
}

/** Idle: the stream must outlive `idleMs` of silence but for heartbeats. */
export function judgeIdle(o: StreamObservation): Finding {
  if (o.idleMs === 0) {
    return finding("stream.idle", "skip", "idle streams not tested", { fix: "run with --idle 120 (seconds)" });
  }
  const beat = o.heartbeatMs > 0 ? `heartbeats every ${SECONDS(o.heartbeatMs)}` : "heartbeats off";
  if (o.ended) {
    return finding(
      "stream.idle",
      "pass",
      `an idle stream survived ${SECONDS(o.idleMs)} (${beat}, ${o.heartbeats} received)`,
    );
  }
  const after = o.cutAfterMs === undefined ? "before its end" : `after ${SECONDS(o.cutAfterMs)}`;
  return finding("stream.idle", "fail", `an idle stream was cut ${after} of ${SECONDS(o.idleMs)} (${beat})`, {
    fix: "a proxy's read or idle timeout is shorter than the heartbeat interval: raise it above the heartbeat (nginx proxy_read_timeout, HAProxy timeout server/tunnel, ALB idle timeout) or lower heartbeat.interval",
  });
}

/** Headers: the MCP request headers must reach the gateway, and `Mcp-Session-Id` come back. */
export function judgeHeaders(o: StreamObservation): Finding {
  const dropped: string[] = [];
  const changed: string[] = [];
  for (const [name, value] of Object.entries(ECHOED)) {
    const got = o.received[name];
    if (got === undefined) dropped.push(name);
    else if (name !== "accept" && got !== value) changed.push(name);
  }
  const back = o.responseSessionId === undefined ? ["mcp-session-id (response)"] : [];
  const forwarded = ["x-forwarded-for", "x-forwarded-proto"].filter((h) => o.received[h] !== undefined);
  const detail = forwarded.length > 0 ? `the proxies add ${forwarded.join(", ")}` : "no X-Forwarded-For/-Proto added";
  if (dropped.length + changed.length + back.length === 0) {
    return finding("stream.headers", "pass", "the MCP headers pass both ways", { detail });
  }
  const parts = [
    dropped.length > 0 ? `dropped: ${dropped.join(", ")}` : "",
    changed.length > 0 ? `changed: ${changed.join(", ")}` : "",
    back.length > 0 ? `not passed back: ${back.join(", ")}` : "",
  ].filter(Boolean);
  return finding("stream.headers", "fail", `a proxy alters MCP headers (${parts.join("; ")})`, {
    detail,
    fix: "forward Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name and Mcp-Param-* unchanged, and pass Mcp-Session-Id back (no proxy_set_header/proxy_hide_header on them)",
  });
}
