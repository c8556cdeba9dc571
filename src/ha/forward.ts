import { Agent, type IncomingMessage, request, type ServerResponse } from "node:http";
import { endToEndHeaders } from "../security/header-policy.js";
import { NODE_HEADER } from "./session-id.js";

/** Set on a request one node forwards to another: it is never forwarded again (no loops). */
export const HOP_HEADER = "x-switchyard-ha-hop";
/** Set on the 503 of a node that is stopping: the forwarding node takes the session over instead. */
export const STOPPING_HEADER = "x-switchyard-ha-stopping";

/** Set again for the hop: the owner's address, and the length of the body as it is sent. */
const REPLACED = new Set(["host", "content-length"]);

export type ForwardResult = "forwarded" | "refused";

/** The owner's name stays behind: the answer names the node the client reached. */
const DROPPED = new Set([NODE_HEADER]);

/** Connections between nodes are kept open: a hop costs a request, not a TCP handshake. */
const agent = new Agent({ keepAlive: true, maxFreeSockets: 64 });

/**
 * Send the request (its body already read: MCP requests are small JSON) to the node that owns its
 * session; the answer is streamed back (an SSE answer flows event by event), headers intact; abort it
 * when the client leaves. Resolves "refused" when the owner's port
 * refused the connection (the process is gone) or the owner says it is stopping, before anything was
 * sent back, so the caller may adopt the session instead; other failures end the response.
 */
export function forwardTo(
  ownerUrl: string,
  req: IncomingMessage,
  body: Buffer | undefined,
  res: ServerResponse,
): Promise<ForwardResult> {
  return new Promise((resolve) => {
    const target = new URL(req.url ?? "/", ownerUrl);
    const headers = [...endToEndHeaders(req.headers, REPLACED), "host", target.host, HOP_HEADER, "1"];
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
      if (err.code === "ECONNREFUSED" && !res.headersSent) return resolve("refused");
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "Session owner unreachable" } }),
        );
      } else {
        res.destroy();
      }
      resolve("forwarded");
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  });
}
