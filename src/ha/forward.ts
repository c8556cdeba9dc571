import { Agent, type IncomingMessage, request, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { haSpan } from "../observability/tracing.js";
import { endToEndHeaders } from "../security/header-policy.js";
import { NODE_HEADER } from "./session-id.js";

/** Set on a request one node forwards to another: it is never forwarded again (no loops). */
export const HOP_HEADER = "x-switchyard-ha-hop";
/** Set on the 503 of a node that is stopping: the forwarding node takes the session over instead. */
export const STOPPING_HEADER = "x-switchyard-ha-stopping";

/** Set again for the hop: the owner's address, and the length of the body as it is sent. */
const REPLACED = new Set(["host", "content-length"]);
/** …and, when traced, the trace context: the owner's parent is the hop's span. */
const TRACE_REPLACED = new Set([...REPLACED, "traceparent", "tracestate", "baggage"]);

/**
 * `refused`: the owner is not there (its port refused, or it is stopping) and nothing was sent back.
 * `lost`: the connection broke after the request went out, before any answer: the owner may have run it.
 */
export type ForwardResult = "forwarded" | "refused" | "lost";

/** The owner's name stays behind: the answer names the node the client reached. */
const DROPPED = new Set([NODE_HEADER]);

/** Connections between nodes are kept open: a hop costs a request, not a TCP handshake. */
const agent = new Agent({ keepAlive: true, maxFreeSockets: 64 });

/**
 * Send the request (its body already read: MCP requests are small JSON) to the node that owns its
 * session; the answer is streamed back (an SSE answer flows event by event), headers intact; abort it
 * when the client leaves. Resolves "refused" when the owner's port refused the connection (the process
 * is gone) or the owner says it is stopping, so the caller may adopt the session instead, and "lost"
 * when the connection broke before any answer: in both cases nothing was sent to the client yet.
 */
export function forwardTo(
  ownerUrl: string,
  req: IncomingMessage,
  body: Buffer | undefined,
  res: ServerResponse,
): Promise<ForwardResult> {
  const hop = haSpan("mcp forward hop", "client", req.headers, {
    "server.address": new URL(ownerUrl).hostname,
    "server.port": Number(new URL(ownerUrl).port),
  });
  const done = new Promise<ForwardResult>((resolve) => {
    const target = new URL(req.url ?? "/", ownerUrl);
    const headers = [
      ...endToEndHeaders(req.headers, hop ? TRACE_REPLACED : REPLACED),
      "host",
      target.host,
      HOP_HEADER,
      "1",
    ];
    if (hop) for (const name in hop.headers) headers.push(name, hop.headers[name] as string);
    if (body !== undefined) headers.push("content-length", String(body.length));
    const upstream = request(target, { method: req.method, headers, agent }, (answer) => {
      if (answer.headers[STOPPING_HEADER] !== undefined) {
        answer.resume();
        resolve("refused");
        return;
      }
      res.writeHead(answer.statusCode ?? 502, endToEndHeaders(answer.headers, DROPPED));
      res.flushHeaders();
      answer.pipe(res);
      answer.on("error", () => res.destroy());
      answer.on("end", () => resolve("forwarded"));
    });
    upstream.on("error", (err: NodeJS.ErrnoException) => {
      if (!res.headersSent) return resolve(err.code === "ECONNREFUSED" ? "refused" : "lost");
      res.destroy();
      resolve("forwarded");
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  });
  if (hop) void done.then((r) => hop.end(r === "forwarded" ? undefined : r));
  return done;
}

/**
 * Whether a process listens at the owner's address: false only when its port refuses a connection (the
 * process is gone); a connection accepted, or no answer within `timeoutMs`, counts as there.
 */
export function listening(ownerUrl: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port, protocol } = new URL(ownerUrl);
  return new Promise((resolve) => {
    const socket = connect({
      host: hostname.replace(/^\[|\]$/g, ""),
      port: Number(port || (protocol === "https:" ? 443 : 80)),
    });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code !== "ECONNREFUSED"));
  });
}
