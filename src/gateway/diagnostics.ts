import { SwitchyardError } from "../errors.js";
import { HEARTBEAT } from "../sse/boundary.js";
import type { RequestContext } from "./context.js";
import { respondThrown } from "./respond.js";
import type { GatewayState } from "./state.js";
import { holdStream } from "./streams.js";

export const DIAGNOSTICS_PATH = "/.switchyard/diagnostics/stream";

/**
 * Request headers whose values the echo shows (what `switchyard check` compares, and what proxies add
 * about the path); every other header is shown as `(present)`: a proxy in front may add credentials of
 * its own (an auth proxy's token, an OIDC assertion) that nobody should read back.
 */
const SHOWN = /^(mcp-[a-z0-9-]+|last-event-id|accept|content-type|host|user-agent|via|forwarded|x-forwarded-[a-z-]+)$/;

/** Set on the stream's response: `switchyard check` sees whether the proxies pass it back. */
export const ECHO_SESSION_ID = "switchyard-diagnostics";

function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  const value = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new SwitchyardError("SWY_DIAGNOSTICS_INVALID");
  return value;
}

/**
 * `GET /.switchyard/diagnostics/stream?events=5&every=300&idle=0` (`diagnostics.enabled`), for
 * `switchyard check`: an SSE stream that first echoes the request headers it received, then sends
 * `events` timed `tick` events `every` ms apart, then stays idle for `idle` ms — heartbeats only, at the
 * gateway's interval — and ends with an `end` event. It sends no `X-Accel-Buffering`, so what the client
 * measures is the proxies' own behaviour. A few at once (`diagnosticStreams`; 503 past them).
 */
export function serveDiagnostics(ctx: RequestContext, gw: GatewayState): boolean {
  if (ctx.path !== DIAGNOSTICS_PATH || !gw.config.diagnostics.enabled) return false;
  if (ctx.req.method !== "GET") throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET" } });
  const query = new URLSearchParams(ctx.query);
  const events = intParam(query, "events", 5, 1, 50);
  const every = intParam(query, "every", 300, 10, 5000);
  const idle = intParam(query, "idle", 0, 0, 600_000);
  open(ctx, gw, events, every, idle).catch((err: unknown) => respondThrown(ctx, err));
  return true;
}

async function open(ctx: RequestContext, gw: GatewayState, events: number, every: number, idle: number) {
  await gw.diagnosticStreams.take();
  try {
    await holdStream(ctx, gw);
  } catch (err) {
    gw.diagnosticStreams.give();
    throw err;
  }
  // The client left while the slots were counted (by the workers' primary).
  if (ctx.res.closed) return gw.diagnosticStreams.give();
  const received: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined) continue;
    received[name] = !SHOWN.test(name) ? "(present)" : Array.isArray(value) ? value.join(", ") : value;
  }
  const heartbeatMs = gw.config.heartbeat.interval;
  const { res } = ctx;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "mcp-session-id": ECHO_SESSION_ID,
  });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send("headers", { received, heartbeatMs, sentAt: Date.now() });
  const timers: NodeJS.Timeout[] = [];
  const stop = () => {
    for (const t of timers) clearTimeout(t); // intervals too
  };
  res.once("close", () => {
    stop();
    gw.diagnosticStreams.give();
  });
  let seq = 0;
  const tick = setInterval(() => {
    send("tick", { seq: ++seq, sentAt: Date.now() });
    if (seq < events) return;
    clearInterval(tick);
    if (heartbeatMs > 0 && idle > heartbeatMs) timers.push(setInterval(() => res.write(HEARTBEAT), heartbeatMs));
    timers.push(
      setTimeout(() => {
        stop();
        send("end", { sentAt: Date.now() });
        res.end();
      }, idle),
    );
  }, every);
  timers.push(tick);
}
