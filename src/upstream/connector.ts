import { buildConnector } from "undici";

/** A connection that has carried no request this long after connecting is closed. */
const UNUSED_CONNECTION_MS = 2_000;

/**
 * How the gateway opens connections to a replica (the one place to guard them, e.g. against SSRF).
 *
 * It also closes connections that never carry a request. undici 7 re-queues a request aborted while its
 * response streams (a client leaving an SSE stream), reconnects for it, then drops it: the new socket
 * has no keep-alive timer and would stay open for good (nodejs/undici#5845). One such socket per client
 * that leaves would exhaust descriptors; a request is written the moment a connection opens, so a
 * socket with nothing written after a while is one of those.
 */
export function createConnector(connectTimeoutMs: number): buildConnector.connector {
  const base = buildConnector({ timeout: connectTimeoutMs });
  return (options, callback) => {
    base(options, (err, socket) => {
      if (socket) {
        const timer = setTimeout(() => {
          if (socket.bytesWritten === 0) socket.destroy();
        }, UNUSED_CONNECTION_MS);
        timer.unref();
        socket.once("close", () => clearTimeout(timer));
      }
      if (err) callback(err, null);
      else callback(null, socket as NonNullable<typeof socket>);
    });
  };
}
