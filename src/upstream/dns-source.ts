import { promises as dns } from "node:dns";
import { publish } from "../observability/events.js";
import { type ReplicaEntry, replicaUrlAt } from "./replica-entry.js";

type DnsEntry = Extract<ReplicaEntry, { kind: "dns" | "srv" }>;

export interface DnsSourceOptions {
  /** Resolvers (`HOST` or `HOST:PORT`); empty: the system's. */
  servers: readonly string[];
  /** Re-resolve period (ms); undefined: the records' TTL, bounded to 1 s … 30 s. */
  intervalMs: number | undefined;
  /** A name gone (NXDOMAIN, no records) this long empties the set (ms). */
  removeAfterMs: number;
}

/** What one resolution found: addresses (with the shortest TTL), the name is gone, or the resolver failed. */
type Outcome =
  | { kind: "ok"; urls: Map<string, string>; ttlMs: number }
  | { kind: "gone"; why: string }
  | { kind: "failed"; why: string };

const MIN_MS = 1_000;
const MAX_MS = 30_000;
/** How long one query may take (the resolver's own timeout, per try). */
const QUERY_TIMEOUT_MS = 2_000;

/** The name does not exist, or has no records of the type asked: as opposed to a resolver that failed. */
const ABSENT = new Set(["ENOTFOUND", "ENODATA"]);

/**
 * The replicas a DNS entry names, kept up to date: resolved when started and then periodically, never on
 * a request's path (but `refresh()` lets one ask for a resolution now). A resolution that fails keeps the
 * last known set (a DNS hiccup never empties a pool); a name gone for `removeAfterMs` empties it.
 * `onChange` hears each new set; each resolution is published (`resolution`), flagged when its outcome
 * changed.
 */
export class DnsSource {
  /**
   * The replicas as last known (empty before the first answer): each one's URL, and its host name (the
   * name, or an SRV target) — what its TLS certificate must carry.
   */
  private urls = new Map<string, string>();
  private readonly resolver: dns.Resolver;
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> | undefined;
  private goneSince: number | undefined;
  private lastOutcome = "";
  private stopped = false;

  constructor(
    private readonly route: string,
    private readonly entry: DnsEntry,
    private readonly options: DnsSourceOptions,
    private readonly onChange: () => void,
  ) {
    this.resolver = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 2 });
    if (options.servers.length > 0) this.resolver.setServers([...options.servers]);
  }

  /** The replicas' URLs as last known. */
  get current(): Iterable<string> {
    return this.urls.keys();
  }

  /**
   * Resolve now (one resolution at a time: callers meanwhile share it); each resolution schedules the
   * next one. A pool awaits the first, so that it starts with its replicas.
   */
  refresh(): Promise<void> {
    this.pending ??= this.resolveOnce().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The name this entry resolves. */
  get name(): string {
    return this.entry.name;
  }

  /**
   * Another worker of this gateway resolved the name to this set: take it now (this source's own
   * resolutions go on as before).
   */
  adopt(replicas: Array<[url: string, host: string]>): void {
    this.goneSince = undefined;
    this.set(new Map(replicas));
  }

  /** The host name behind a replica URL of this entry, if it is one. */
  hostnameOf(url: string): string | undefined {
    return this.urls.get(url);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.resolver.cancel();
  }

  private async resolveOnce(): Promise<void> {
    clearTimeout(this.timer);
    const outcome = await this.lookup();
    if (this.stopped) return;
    let next: number;
    if (outcome.kind === "ok") {
      this.goneSince = undefined;
      this.set(outcome.urls);
      next = outcome.ttlMs;
    } else if (outcome.kind === "gone") {
      this.goneSince ??= Date.now();
      if (Date.now() - this.goneSince >= this.options.removeAfterMs) this.set(new Map());
      next = MIN_MS;
    } else {
      next = MIN_MS;
    }
    const summary =
      outcome.kind === "ok" ? `ok ${[...outcome.urls.keys()].sort().join(",")}` : `${outcome.kind} ${outcome.why}`;
    const changed = summary !== this.lastOutcome;
    this.lastOutcome = summary;
    publish("resolution", {
      route: this.route,
      name: this.entry.name,
      outcome: outcome.kind,
      replicas: this.urls.size,
      ...(outcome.kind === "ok" ? {} : { why: outcome.why }),
      changed,
    });
    const period = this.options.intervalMs ?? Math.min(MAX_MS, Math.max(MIN_MS, next));
    this.timer = setTimeout(() => void this.refresh(), period);
    this.timer.unref();
  }

  /** URL → host name. */
  private set(urls: Map<string, string>): void {
    const same = urls.size === this.urls.size && [...urls.keys()].every((u) => this.urls.has(u));
    this.urls = urls;
    if (same) return;
    publish("answer", { route: this.route, name: this.entry.name, replicas: [...urls] });
    this.onChange();
  }

  private async lookup(): Promise<Outcome> {
    if (this.entry.kind === "dns") {
      const found = await this.addresses(this.entry.name);
      if (found.kind !== "ok") return found;
      const { name, port } = this.entry;
      const urls = new Map(found.addresses.map((a) => [urlAt(this.entry, a, port), name]));
      return { kind: "ok", urls, ttlMs: found.ttlMs };
    }
    let records: Array<{ name: string; port: number }>;
    try {
      records = await this.resolver.resolveSrv(this.entry.name);
    } catch (err) {
      return failure(err);
    }
    if (records.length === 0) return { kind: "gone", why: "no SRV records" };
    const urls = new Map<string, string>();
    let ttlMs = MAX_MS;
    for (const record of records) {
      const found = await this.addresses(record.name);
      // A target that failed to resolve keeps the whole answer as it was: never a partial pool.
      if (found.kind === "failed") return found;
      if (found.kind === "gone") continue;
      ttlMs = Math.min(ttlMs, found.ttlMs);
      for (const a of found.addresses) urls.set(urlAt(this.entry, a, record.port), record.name);
    }
    if (urls.size === 0) return { kind: "gone", why: "no address for any SRV target" };
    return { kind: "ok", urls, ttlMs };
  }

  /** A and AAAA records of `name` (an address literal is itself). */
  private async addresses(
    name: string,
  ): Promise<{ kind: "ok"; addresses: string[]; ttlMs: number } | Exclude<Outcome, { kind: "ok" }>> {
    const [v4, v6] = await Promise.allSettled([
      this.resolver.resolve4(name, { ttl: true }),
      this.resolver.resolve6(name, { ttl: true }),
    ]);
    const records = [v4, v6].flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    if (records.length > 0) {
      const ttl = Math.min(...records.map((r) => r.ttl));
      return { kind: "ok", addresses: records.map((r) => r.address), ttlMs: ttl * 1000 };
    }
    // No address: the name is gone only if both answers say so; any other error is the resolver's.
    for (const r of [v4, v6]) if (r.status === "rejected" && !ABSENT.has(code(r.reason))) return failure(r.reason);
    return { kind: "gone", why: code(v4.status === "rejected" ? v4.reason : undefined) || "no records" };
  }
}

/** The replica's URL, normalised as its id is. */
function urlAt(entry: DnsEntry, address: string, port: number): string {
  return new URL(replicaUrlAt(entry, address, port)).href;
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? "";
}

function failure(err: unknown): Exclude<Outcome, { kind: "ok" }> {
  const c = code(err);
  if (ABSENT.has(c)) return { kind: "gone", why: c };
  return { kind: "failed", why: c || (err as Error).message };
}
