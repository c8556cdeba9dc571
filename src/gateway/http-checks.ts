import type { IncomingMessage } from "node:http";
import { SwitchyardError } from "../errors.js";

/**
 * Header fields a request may carry (the default of Apache's `LimitRequestFields`; HAProxy allows 101).
 * Past it → 431. Node itself keeps about the first thousand fields and silently drops the rest, so
 * that a header sent after them (an `Mcp-Session-Id`, say) would simply not exist for the gateway.
 */
export const MAX_HEADER_FIELDS = 100;

const CLOSE = { connection: "close" };

/**
 * What Node's HTTP parser lets through but the gateway must not act on (RFC 9112), checked before any
 * stage: a version other than HTTP/1.0 and 1.1 (a request line without one is HTTP/0.9 to Node, which
 * still reads headers and a body after it; RFC 9110 §15.6.6: 505); too many header fields; an HTTP/1.1
 * request without exactly one `Host` (§3.2: 400); a `Transfer-Encoding` on HTTP/1.0 (§6.1: faulty
 * framing, 400) or with a coding besides `chunked`, which Node does not decode (§6.1: 501); an `Expect`
 * other than `100-continue` (RFC 9110 §10.1.1: 417; Node hands those to the pipeline through
 * `checkExpectation`). Every refusal closes the connection: its framing is not trusted.
 */
export function checkHttp(req: IncomingMessage): SwitchyardError | undefined {
  if (req.httpVersionMajor !== 1) {
    return new SwitchyardError("SWY_HTTP_VERSION_NOT_SUPPORTED", { headers: CLOSE });
  }
  const raw = req.rawHeaders;
  if (raw.length > 2 * MAX_HEADER_FIELDS) {
    return new SwitchyardError("SWY_HEADERS_TOO_LARGE", {
      headers: CLOSE,
      detail: `more than ${MAX_HEADER_FIELDS} header fields`,
    });
  }
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (req.httpVersionMinor >= 1 ? hosts !== 1 : hosts > 1) {
    return new SwitchyardError("SWY_BAD_HTTP", { headers: CLOSE, detail: "a request needs exactly one Host" });
  }
  const te = req.headers["transfer-encoding"];
  if (te !== undefined) {
    if (req.httpVersionMinor === 0) {
      return new SwitchyardError("SWY_BAD_HTTP", { headers: CLOSE, detail: "Transfer-Encoding in HTTP/1.0" });
    }
    if (te.trim().toLowerCase() !== "chunked") {
      return new SwitchyardError("SWY_UNSUPPORTED_TRANSFER_ENCODING", { headers: CLOSE });
    }
  }
  const expect = req.headers.expect;
  if (expect !== undefined && expect.trim().toLowerCase() !== "100-continue") {
    return new SwitchyardError("SWY_EXPECTATION_FAILED", { headers: CLOSE });
  }
  return undefined;
}
