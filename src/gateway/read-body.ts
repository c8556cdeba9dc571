import type { IncomingMessage } from "node:http";
import { SwitchyardError } from "../errors.js";

/**
 * The rest of an oversized body is read and discarded after the 413 (Node does this once the response
 * ends, bounded by `timeouts.requestBody`), so that the client, still sending, can read the answer
 * instead of meeting a reset connection.
 */
const TOO_LARGE = () => new SwitchyardError("SWY_BODY_TOO_LARGE");

/**
 * Read a POST body, at most `limit` bytes (413 past it, without keeping the rest). The body is small
 * JSON-RPC; reading it whole is what lets the gateway classify and validate before choosing a replica.
 * A client that leaves mid-body leaves the promise pending; it is collected with the request.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(TOO_LARGE());
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let rest: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        reject(TOO_LARGE());
      } else if (first === undefined) {
        first = chunk;
      } else {
        rest ??= [first];
        rest.push(chunk);
      }
    };
    req.on("data", onData);
    req.on("end", () => {
      if (size > limit) return;
      resolve(rest ? Buffer.concat(rest, size) : (first ?? Buffer.alloc(0)));
    });
  });
}
