import { setTimeout as sleep } from "node:timers/promises";
import { subscribe } from "../observability/events.js";
import type { Message } from "./member-link.js";
import type { Caller } from "./members.js";
import type { VirtualServer } from "./virtual-server.js";

/** Which list changes a client listens for (the modern `subscriptions/listen` filter; a GET stream: all). */
export interface ListFilter {
  toolsListChanged: boolean;
  promptsListChanged: boolean;
  resourcesListChanged: boolean;
}

export const EVERY_LIST: ListFilter = { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true };

const LIST_CHANGED: Record<keyof ListFilter, string> = {
  toolsListChanged: "notifications/tools/list_changed",
  promptsListChanged: "notifications/prompts/list_changed",
  resourcesListChanged: "notifications/resources/list_changed",
};

/** A member's stream that ended (or never opened) is tried again after this long, while the client listens. */
const RETRY_MS = 1_000;

/**
 * One client's notification stream, fed by every member's (`Members.listen`): their notifications and
 * their own requests (under relayed ids) as they come; a list change of a member's — or a member going
 * down or coming back, which changes the lists too — as the virtual server's own list change, once per
 * burst. Runs until `signal` aborts (the client left).
 */
export function fanIn(
  v: VirtualServer,
  caller: Caller,
  filter: ListFilter,
  emit: (member: string | undefined, m: Message) => void,
  signal: AbortSignal,
  /** The caller's virtual session is gone (expired, ended): the client's stream ends too. */
  gone: () => void,
): void {
  let pending: Set<string> | undefined;
  const changed = (method: string) => {
    // Changes of one moment go out together, each list once; the catalog is asked again meanwhile.
    if (pending) {
      pending.add(method);
      return;
    }
    pending = new Set([method]);
    void v
      .refresh()
      .catch(() => undefined)
      .then(() => {
        const methods = pending ?? new Set<string>();
        pending = undefined;
        if (signal.aborted) return;
        for (const m of methods) emit(undefined, { jsonrpc: "2.0", method: m });
      });
  };
  const wanted = (Object.keys(LIST_CHANGED) as Array<keyof ListFilter>).filter((k) => filter[k]);
  const onMessage = (member: string) => (m: Message) => {
    const listChange = wanted.find((k) => LIST_CHANGED[k] === m.method);
    if (listChange !== undefined) changed(m.method as string);
    else if (
      !Object.values(LIST_CHANGED).includes(m.method ?? "") &&
      m.method !== "notifications/subscriptions/acknowledged"
    ) {
      emit(member, m);
    }
  };

  let down = new Set(v.down());
  const unsubscribe = subscribe("replica", ({ route }) => {
    if (!v.members.links.has(route)) return;
    const now = new Set(v.down());
    if (now.size === down.size && [...now].every((m) => down.has(m))) return;
    down = now;
    for (const k of wanted) changed(LIST_CHANGED[k]);
  });
  signal.addEventListener("abort", unsubscribe, { once: true });

  for (const member of v.members.names) {
    void (async () => {
      while (!signal.aborted) {
        if (!(await v.members.alive(caller))) {
          gone();
          return;
        }
        const offered = await v.members
          .listen(member, caller, { ...filter }, onMessage(member), signal)
          .catch(() => true);
        if (!offered) return;
        await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
      }
    })();
  }
}
