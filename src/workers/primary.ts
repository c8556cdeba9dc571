import cluster, { type Worker } from "node:cluster";
import type { Config } from "../config/schema.js";
import { LocalHosts } from "../host/local-hosts.js";
import { usesRedis } from "../redis/client.js";
import { MemorySessionStore } from "../sessions/memory-store.js";
import { autoWorkers } from "./cpus.js";
import { gather } from "./gather.js";
import {
  type Ask,
  type AskMessage,
  type DnsMessage,
  type HealthMessage,
  type HealthState,
  isMessage,
  type ListeningMessage,
  type MembershipMessage,
  type NoteMessage,
  type PrimaryMessage,
  type Tell,
} from "./ipc.js";
import { answerHosts } from "./shared-hosts.js";
import { SlotBook } from "./shared-slots.js";
import { SharedStore } from "./shared-store.js";
import { SharedTenancy } from "./shared-tenancy.js";

/** The worker count `workers` asks for. */
export function workerCount(config: Config): number {
  return config.workers === "auto" ? autoWorkers() : config.workers;
}

/** Backoff before restarting a worker that died: doubling from 100 ms to 5 s, reset after 10 s of life. */
const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 5000;
const STABLE_MS = 10_000;

function line(fields: Record<string, unknown>): void {
  process.stdout.write(
    `${JSON.stringify({ level: 30, time: new Date().toISOString(), pid: process.pid, ...fields })}\n`,
  );
}

/**
 * `switchyard serve --workers N`: this process forks N workers that serve the one listening address
 * (Node's cluster: the primary accepts connections and hands them out in turn), restarts one that dies
 * (with backoff), and passes SIGTERM and SIGHUP on. It holds what the workers share (docs/workers.md):
 * - with the embedded store, the gateway's one session store (`shared-store.ts`) and its tenants
 *   (`shared-tenancy.ts`); with Redis the workers use it as separate gateways would;
 * - the count of stream slots (`shared-slots.ts`) and the `command` routes' hosts (`shared-hosts.ts`);
 * - one view of the replicas: it names the worker that runs the active checks, relays every change of
 *   health and every new DNS answer a worker sees to the others, and tells a worker that starts the
 *   health and the draining replicas as they are (`shared-replicas.ts`).
 */
export function runPrimary(config: Config): void {
  const count = workerCount(config);
  let stopping = false;
  /** The live workers, by slot (1…N). */
  const bySlot = new Map<number, Worker>();
  const listening = new Map<number, ListeningMessage>();
  let announced = false;
  const send = (w: Worker | undefined, message: PrimaryMessage) => {
    if (w?.isConnected()) w.send(message);
  };
  /** Tell every live worker (but `except`). */
  const tellAll = (tell: Tell, except?: number) => {
    for (const [slot, w] of bySlot) if (slot !== except) send(w, { swy: "tell", tell });
  };
  // The embedded store (sessions, or with signed ids the revocations alone) is the primary's.
  const store = !usesRedis(config)
    ? new SharedStore(
        new MemorySessionStore({ idleTtlMs: config.sessions.idleTtl, maxSessions: config.sessions.maxSessions }),
        tellAll,
      )
    : undefined;
  /** Tenants on the embedded store: the primary holds them too. */
  const tenancy =
    config.admin.token !== undefined && !usesRedis(config) ? new SharedTenancy(config, tellAll) : undefined;
  /** Each `command` route's one `switchyard host`, for every worker. */
  const hosts = new LocalHosts();
  /** Stream limits over the whole gateway. */
  const slots = new SlotBook();
  /** Replica health as the workers last reported it (for a worker that starts). */
  const health = new Map<string, HealthState>();
  /** Replicas that left the DNS answer and still drain (for a worker that starts meanwhile). */
  const draining = new Map<string, { route: string; replica: string }>();
  /** The listening worker with the lowest slot leads the active health checks; the others do not. */
  const electLeader = () => {
    const leader = Math.min(...listening.keys());
    for (const [slot, w] of bySlot) send(w, { swy: "tell", tell: { op: "health.lead", lead: slot === leader } });
  };

  /** A worker's question, answered by the part of the shared state it is about. */
  const answer = (slot: number, ask: Ask): Promise<unknown> => {
    const part = ask.op.slice(0, ask.op.indexOf("."));
    const answered =
      ask.op === "slots.take"
        ? Promise.resolve(slots.take(slot, ask.key, ask.max))
        : ask.op === "gather"
          ? gather(
              [...bySlot.entries()].filter(([s]) => listening.has(s)).map(([, w]) => w),
              ask.what,
            )
          : part === "store"
            ? store?.answer(ask)
            : part === "hosts"
              ? answerHosts(hosts, config, ask)
              : tenancy?.answer(ask);
    return answered ?? Promise.reject(new Error(`${ask.op}: not held by this gateway's primary`));
  };

  const fork = (slot: number, restarts: number) => {
    const started = Date.now();
    const worker = cluster.fork({ SWITCHYARD_WORKER: String(slot) });
    bySlot.set(slot, worker);
    worker.on("message", (m: unknown) => {
      if (isMessage<HealthMessage>(m, "health")) {
        health.set(`${m.state.route}\u0000${m.state.replica}`, m.state);
        tellAll({ op: "health.state", state: m.state }, slot);
        return;
      }
      if (isMessage<MembershipMessage>(m, "membership")) {
        const key = `${m.route}\u0000${m.replica}`;
        if (m.state === "draining") draining.set(key, { route: m.route, replica: m.replica });
        else draining.delete(key);
        return;
      }
      if (isMessage<DnsMessage>(m, "dns")) {
        tellAll({ op: "dns.answer", answer: m.answer }, slot);
        return;
      }
      if (isMessage<NoteMessage>(m, "note")) {
        if (m.note.op === "slots.give") slots.give(slot, m.note.key);
        else tenancy?.touch(m.note.tenant, m.note.id);
        return;
      }
      if (isMessage<AskMessage>(m, "ask")) {
        answer(slot, m.ask).then(
          (value) => send(worker, { swy: "answer", id: m.id, ok: true, value }),
          (err: Error) => send(worker, { swy: "answer", id: m.id, ok: false, error: err.message }),
        );
      } else if (isMessage<ListeningMessage>(m, "listening")) {
        listening.set(slot, m);
        for (const d of draining.values()) send(worker, { swy: "tell", tell: { op: "membership.draining", ...d } });
        for (const state of health.values()) send(worker, { swy: "tell", tell: { op: "health.state", state } });
        electLeader();
        if (!announced && listening.size === count) {
          announced = true;
          // One line for the gateway, once every worker listens (harnesses and operators read it).
          line({ ...m.event, workers: count, msg: "listening" });
        }
      }
    });
    worker.on("exit", (code, signal) => {
      listening.delete(slot);
      bySlot.delete(slot);
      slots.release(slot);
      if (stopping) return;
      if (listening.size > 0) electLeader();
      const lived = Date.now() - started;
      const next = lived > STABLE_MS ? 0 : restarts + 1;
      const delay = next === 0 ? 0 : Math.min(FIRST_RESTART_MS * 2 ** (next - 1), MAX_RESTART_MS);
      line({ level: 40, msg: "worker exited", worker: slot, code, signal, restartInMs: delay });
      setTimeout(() => fork(slot, next), delay);
    });
  };
  for (let slot = 1; slot <= count; slot++) fork(slot, 0);

  const workers = () => [...bySlot.values()];
  const stop = () => {
    if (stopping) {
      for (const w of workers()) w.process.kill("SIGKILL");
      process.exit(1);
    }
    stopping = true;
    const alive = workers();
    // The hosts of `command` routes end after the workers that use them.
    const exit = () => void hosts.close().finally(() => process.exit(0));
    if (alive.length === 0) return exit();
    let left = alive.length;
    for (const w of alive) {
      w.once("exit", () => {
        if (--left === 0) exit();
      });
      w.process.kill("SIGTERM");
    }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => {
    for (const w of workers()) w.process.kill("SIGHUP");
  });
}
