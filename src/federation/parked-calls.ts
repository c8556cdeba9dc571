import { randomBytes } from "node:crypto";
import type { Cancel } from "./member-exchange.js";
import type { Message } from "./member-link.js";
import type { Answered } from "./members.js";

/**
 * Between eras, from a legacy member to a modern client: a legacy member asks its client for input with
 * a request of its own in the middle of a call (elicitation, sampling, roots) and waits for the answer;
 * a modern client (2026-07-28) has no stream to take it, and expects `input_required` instead. So the
 * gateway ends the client's request there — `input_required` with the member's request and a
 * `requestState` naming the call — and keeps the member's call open ("parked") until the client sends
 * the request again with its answer, which goes to the member under the member's own id; the call then
 * goes on. A parked call lives in this gateway process, for at most `PARK_MS`.
 */

const PARK_MS = 5 * 60_000;

/** What a member's call does next: answer, or ask the client something. */
export type Next = { answered: Answered } | { asks: Message };

/** A member's call in flight, and the requests it made of the client, waiting to be taken. */
export class PendingCall {
  private readonly asked: Message[] = [];
  private wake: (() => void) | undefined;
  private readonly answered: Promise<Next>;

  constructor(
    readonly member: string,
    readonly principal: string,
    /** Stops the member's call (a call parked too long). */
    readonly cancel: Cancel,
    call: (onRequest: (m: Message) => void) => Promise<Answered>,
  ) {
    this.answered = call((m) => {
      this.asked.push(m);
      this.wake?.();
    }).then((answered) => ({ answered }));
  }

  /** The call's answer, or the next request it makes of the client (whichever comes first). */
  async next(): Promise<Next> {
    for (;;) {
      const asks = this.asked.shift();
      if (asks) return { asks };
      const woken = new Promise<Next | undefined>((resolve) => {
        this.wake = () => resolve(undefined);
      });
      const next = await Promise.race([this.answered, woken]);
      this.wake = undefined;
      if (next) return next;
    }
  }
}

const parked = new Map<string, { call: PendingCall; memberId: unknown; timer: NodeJS.Timeout }>();

/** Park `call`, waiting for the client's answer to the member's request (whose id is `memberId`); its `requestState`. */
export function park(call: PendingCall, memberId: unknown): string {
  const state = `swy-park/${randomBytes(16).toString("base64url")}`;
  const timer = setTimeout(() => {
    parked.delete(state);
    call.cancel.abort?.("the client did not come back");
  }, PARK_MS);
  timer.unref();
  parked.set(state, { call, memberId, timer });
  return state;
}

/** The parked call a `requestState` names, for this principal (taken: a state serves once). */
export function unpark(state: unknown, principal: string): { call: PendingCall; memberId: unknown } | undefined {
  if (typeof state !== "string") return undefined;
  const entry = parked.get(state);
  if (!entry || entry.call.principal !== principal) return undefined;
  parked.delete(state);
  clearTimeout(entry.timer);
  return entry;
}

/** Whether a request of the client's carries a `requestState` this gateway gave. */
export function isParkedState(state: unknown): boolean {
  return typeof state === "string" && state.startsWith("swy-park/");
}
