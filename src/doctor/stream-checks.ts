import { DIAGNOSTICS_PATH } from "../gateway/diagnostics.js";
import { parseEvents } from "../sse/parse.js";
import { type Finding, finding } from "./finding.js";
import type { CheckHttp } from "./http.js";
import { ECHOED, judgeBuffering, judgeHeaders, judgeIdle, type StreamObservation } from "./stream-judge.js";

const EVENTS = 5;
const EVERY_MS = 300;

/**
 * Through the proxies, the gateway's diagnostic stream (`diagnostics.enabled`): timed events (buffering),
 * an idle period with heartbeats only (timeouts), and the request headers it received (what the proxies
 * dropped). Skipped where there is none (not Switchyard, or diagnostics off).
 */
export async function checkStreams(http: CheckHttp, url: string, idleMs: number): Promise<Finding[]> {
  const target = new URL(DIAGNOSTICS_PATH, url);
  target.search = `?events=${EVENTS}&every=${EVERY_MS}&idle=${idleMs}`;
  const ids = ["stream.buffering", "stream.idle", "stream.headers"];
  const limit = AbortSignal.timeout(http.options.timeoutMs + EVENTS * EVERY_MS + idleMs + 5000);
  let observed: StreamObservation | undefined;
  try {
    observed = await observe(http, target.href, idleMs, limit);
  } catch (err) {
    return ids.map((id) => finding(id, "fail", `the diagnostic stream failed: ${(err as Error).message}`));
  }
  if (!observed) {
    return ids.map((id) =>
      finding(id, "skip", "no diagnostic stream here (not Switchyard, or diagnostics.enabled is false)", {
        fix: "enable `diagnostics.enabled` on the gateways while you audit",
      }),
    );
  }
  return [judgeBuffering(observed), judgeIdle(observed), judgeHeaders(observed)];
}

async function observe(
  http: CheckHttp,
  url: string,
  idleMs: number,
  signal: AbortSignal,
): Promise<StreamObservation | undefined> {
  const res = await http.open(url, ECHOED, signal);
  if (res.statusCode !== 200 || !String(res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
    await res.body.dump().catch(() => {});
    return undefined;
  }
  const o: StreamObservation = {
    received: {},
    responseSessionId: res.headers["mcp-session-id"] as string | undefined,
    contentEncoding: res.headers["content-encoding"] as string | undefined,
    heartbeatMs: 0,
    ticks: [],
    idleMs,
    ended: false,
    cutAfterMs: undefined,
    heartbeats: 0,
  };
  let buf = Buffer.alloc(0);
  let seen = 0;
  try {
    for await (const chunk of res.body) {
      buf = Buffer.concat([buf, chunk as Buffer]);
      const now = Date.now();
      const events = parseEvents(buf);
      for (const e of events.slice(seen)) {
        let data: { received?: Record<string, string>; heartbeatMs?: number; sentAt: number };
        try {
          data = JSON.parse(e.data);
        } catch {
          continue; // not one of the gateway's events: something in between wrote it
        }
        if (e.event === "headers") {
          o.received = data.received ?? {};
          o.heartbeatMs = data.heartbeatMs ?? 0;
        } else if (e.event === "tick") {
          o.ticks.push({ sentAt: data.sentAt, arrivedAt: now });
        } else if (e.event === "end") {
          o.ended = true;
        }
      }
      seen = events.length;
    }
  } catch {
    // Cut: a proxy closed or reset the connection.
  }
  o.heartbeats = buf.toString("utf8").match(/^:/gm)?.length ?? 0;
  const lastTick = o.ticks.at(-1)?.arrivedAt;
  if (!o.ended && lastTick !== undefined) o.cutAfterMs = Date.now() - lastTick;
  return o;
}
