import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";

/**
 * The rest of an oversized body is read and discarded after the 413 (Node does this once the response
 * ends, bounded by `timeouts.requestBody`), so that the client, still sending, can read the answer
 * instead of meeting a reset connection.
 */
const TOO_LARGE = () => new SwitchyardError("SWY_BODY_TOO_LARGE");

/**
 * Read a POST body, at most `limit` bytes (413 past it, without reading the rest). The body is small
 * JSON-RPC; reading it whole is what lets the gateway classify and validate before choosing a replica.
 */
export function readBody(ctx: RequestContext, limit: number): Promise<Buffer> {
  const { req } = ctx;
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(TOO_LARGE());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(TOO_LARGE());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onAborted = () => onError(new Error("client aborted the request"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}
