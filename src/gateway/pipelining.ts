import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { SwitchyardError } from "../errors.js";

/**
 * Requests one client connection may have waiting for their answers at once. HTTP/1.1 clients send one
 * request at a time per connection (browsers, fetch, undici and Node's agent do not pipeline by
 * default); a pipelining client gets its answers in order anyway, so more in parallel buys it nothing.
 */
export const MAX_PIPELINED = 32;

const lanes = new WeakMap<Socket, Set<ServerResponse>>();

/**
 * Stage (first of all): admit one more request on its connection. Node parses every pipelined request
 * of a connection as it arrives and would run them all at once: one connection could open as many
 * upstream connections as it sends requests. A request that arrives while `MAX_PIPELINED` others on its
 * connection still wait for their answers is refused (503, `Retry-After`) instead. The connection stays
 * open: refusals are cheap and written in order (Node stops reading a connection whose answers pile
 * up), and closing it would reset it under answers the client has not read yet.
 */
export function admitOnConnection(socket: Socket, res: ServerResponse): Set<ServerResponse> {
  let open = lanes.get(socket);
  if (open === undefined) {
    open = new Set();
    lanes.set(socket, open);
  }
  // A response leaves its lane when it closes (the pipeline's `closed`); one that has ended but not yet
  // closed (written behind a slower one) no longer waits either: looked for only when the lane is full.
  if (open.size >= MAX_PIPELINED) {
    for (const r of open) if (r.writableEnded || r.destroyed) open.delete(r);
    if (open.size >= MAX_PIPELINED) {
      throw new SwitchyardError("SWY_TOO_MANY_PIPELINED", { headers: { "retry-after": "1" } });
    }
  }
  open.add(res);
  return open;
}
