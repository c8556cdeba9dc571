import { errorBody, SwitchyardError } from "../errors.js";
import { publish } from "../observability/events.js";
import type { RequestContext } from "./context.js";

/** Answer a refusal: status, JSON-RPC error body, stable code. A started response is cut instead. */
export function respondError(ctx: RequestContext, error: SwitchyardError): void {
  const { res } = ctx;
  ctx.code = error.code;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const body = errorBody(error, ctx.info?.rpcId ?? null);
  res.writeHead(error.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...error.headers,
  });
  res.end(body);
}

/** Turn anything thrown by a stage into a response; unexpected errors are faults, answered 502. */
export function respondThrown(ctx: RequestContext, err: unknown): void {
  if (err instanceof SwitchyardError) {
    respondError(ctx, err);
    return;
  }
  publish("fault", { where: "pipeline", code: "SWY_INTERNAL", message: (err as Error)?.message ?? String(err) });
  respondError(ctx, new SwitchyardError("SWY_UPSTREAM_PROTOCOL_ERROR", { cause: err }));
}

export function respondJson(ctx: RequestContext, status: number, value: unknown, headers = {}): void {
  const body = JSON.stringify(value);
  ctx.res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  ctx.res.end(body);
}
