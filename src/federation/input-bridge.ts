import { gatewayId, type Message } from "./member-link.js";

/**
 * Between eras, the other way round from a request: a modern member (2026-07-28) asks its client for
 * input by answering `input_required` — `inputRequests` (elicitation, sampling, roots) and a
 * `requestState` — and expects the request again with `inputResponses`. A legacy client knows none of
 * that: the gateway asks it itself, as a legacy server would (requests on the call's stream), gathers
 * the answers and sends the request again, up to `MAX_ROUNDS` times. The client's answers come back on
 * requests of their own; they must reach this gateway process (the ids are its own).
 */

/** Rounds of input one call may ask for (the SDKs' own cap). */
export const MAX_ROUNDS = 10;

const waiting = new Map<string, (answer: Message) => void>();

export function isInputRequired(m: Message | undefined): boolean {
  const result = m?.result as Record<string, unknown> | undefined;
  return result !== null && typeof result === "object" && result.resultType === "input_required";
}

/**
 * Ask the client each of `requests` (`{ key: { method, params } }`) through `send`, and gather its
 * answers by key: the bare result of each, as `inputResponses` carries it. An error answer, or the
 * client leaving (`gone`), fails it.
 */
export async function askClient(
  requests: Record<string, unknown>,
  send: (request: Message) => void,
  gone: Promise<void>,
): Promise<Record<string, unknown>> {
  const asked = Object.entries(requests).map(async ([key, request]) => {
    const { method, params } = (request ?? {}) as { method?: unknown; params?: unknown };
    if (typeof method !== "string") throw new Error(`input request ${key} names no method`);
    const id = `swy-input/${gatewayId()}`;
    const answer = new Promise<Message>((resolve) => waiting.set(id, resolve));
    send({
      jsonrpc: "2.0",
      id,
      method,
      ...(params === undefined ? {} : { params: params as Record<string, unknown> }),
    });
    try {
      const m = await Promise.race([answer, gone.then(() => undefined)]);
      if (m === undefined) throw new Error("the client left");
      if (m.error !== undefined) throw new Error(`the client refused ${method}`);
      return [key, m.result] as const;
    } finally {
      waiting.delete(id);
    }
  });
  return Object.fromEntries(await Promise.all(asked));
}

/** A client's answer to one of those questions: taken (true), or not one of ours (false). */
export function inputAnswered(answer: Message): boolean {
  const take = typeof answer.id === "string" ? waiting.get(answer.id) : undefined;
  take?.(answer);
  return take !== undefined;
}
