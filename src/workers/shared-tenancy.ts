import { join } from "node:path";
import type { Config } from "../config/schema.js";
import type { TenantDocument } from "../tenancy/document.js";
import { FileDocument } from "../tenancy/file-document.js";
import { MemoryRateLimiter, type RateLimiter } from "../tenancy/rate-limiter.js";
import { emptyTenancy, type TenancyState, TenantRegistry } from "../tenancy/registry.js";
import { type LedgerEntry, MemorySessionLedger, type SessionLedger } from "../tenancy/session-ledger.js";
import type { TenancyParts } from "../tenancy/tenancy.js";
import type { Ask, PrimaryChannel, Tell } from "./ipc.js";

/** The tenancy document and its revision, as the primary holds them. */
interface Revision {
  doc: TenancyState;
  rev: number;
}

/** Changes a worker may retry on a newer document before it gives up. */
const ATTEMPTS = 10;

/**
 * Tenants on the embedded store under `--workers`: the primary holds what one gateway would (the document
 * in `admin.dataDir/tenants.json`, the session ledger, the rate buckets) and the workers ask it, as
 * gateways ask Redis. The document is a compare-and-set on its revision, each new revision told to every
 * worker at once; every worker reads the document from its copy on the hot path. A tenant's rate costs
 * one round trip to the primary per request, its sessions one per new session.
 */
export class SharedTenancy {
  private readonly document: FileDocument<TenancyState>;
  private rev = 1;
  private readonly ledger: MemorySessionLedger;
  private readonly limiter = new MemoryRateLimiter();

  constructor(
    config: Config,
    private readonly tellAll: (tell: Tell) => void,
  ) {
    this.document = new FileDocument(join(config.admin.dataDir, "tenants.json"), emptyTenancy);
    this.ledger = new MemorySessionLedger(config.sessions.idleTtl);
  }

  /** The answer to a worker's question about tenants. */
  async answer(ask: Ask): Promise<unknown> {
    switch (ask.op) {
      case "tenancy.read":
        return { doc: this.document.get(), rev: this.rev } satisfies Revision;
      case "tenancy.cas": {
        if (ask.rev !== this.rev) return { ok: false, doc: this.document.get(), rev: this.rev };
        const next = ask.doc as TenancyState;
        this.document.updateSync((doc) => {
          doc.version = next.version;
          doc.tenants = next.tenants;
        });
        this.rev++;
        this.tellAll({ op: "tenancy.changed", doc: next, rev: this.rev });
        return { ok: true, rev: this.rev };
      }
      case "ledger.add":
        return this.ledger.add(ask.tenant, ask.entry as LedgerEntry);
      case "ledger.remove":
        return this.ledger.remove(ask.tenant, ask.id);
      case "ledger.list":
        return this.ledger.list(ask.tenant);
      case "ledger.count":
        return this.ledger.count(ask.tenant);
      case "rate.take":
        return this.limiter.take(ask.tenant, ask.rate, ask.burst);
      default:
        return undefined;
    }
  }

  /** A worker's session was used (one-way). */
  touch(tenant: string, id: string): void {
    this.ledger.touch(tenant, id);
  }
}

/** A worker's tenancy: the document, ledger and rate buckets the primary holds. */
export async function workerTenancy(primary: PrimaryChannel): Promise<TenancyParts> {
  const document = await WorkerDocument.load(primary);
  return {
    registry: new TenantRegistry(document),
    ledger: new WorkerLedger(primary),
    limiter: new WorkerRateLimiter(primary),
  };
}

/** The tenancy document as a worker sees it: a copy, changed through the primary. */
class WorkerDocument implements TenantDocument<TenancyState> {
  private readonly listeners: (() => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly primary: PrimaryChannel,
    private current: Revision,
  ) {
    primary.onTell((tell) => {
      if (tell.op === "tenancy.changed") this.take({ doc: tell.doc as TenancyState, rev: tell.rev });
    });
  }

  static async load(primary: PrimaryChannel): Promise<WorkerDocument> {
    return new WorkerDocument(primary, await primary.ask<Revision>({ op: "tenancy.read" }));
  }

  get(): TenancyState {
    return this.current.doc;
  }

  /** One change at a time from this worker; retried on a newer copy when another worker changed it first. */
  update<R>(change: (doc: TenancyState) => R): Promise<R> {
    const run = this.queue.then(async () => {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const next = structuredClone(this.current.doc);
        const result = change(next);
        const answer = await this.primary.ask<{ ok: boolean; rev: number; doc?: TenancyState }>({
          op: "tenancy.cas",
          rev: this.current.rev,
          doc: next,
        });
        this.take(answer.ok ? { doc: next, rev: answer.rev } : { doc: answer.doc as TenancyState, rev: answer.rev });
        if (answer.ok) return result;
      }
      throw new Error("the tenancy document kept changing: try again");
    });
    this.queue = run.catch(() => {});
    return run;
  }

  async refresh(): Promise<void> {
    this.take(await this.primary.ask<Revision>({ op: "tenancy.read" }));
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {}

  private take(next: Revision): void {
    if (next.rev <= this.current.rev) return;
    this.current = next;
    for (const l of this.listeners) l();
  }
}

class WorkerLedger implements SessionLedger {
  constructor(private readonly primary: PrimaryChannel) {}

  async add(tenant: string, entry: LedgerEntry): Promise<void> {
    await this.primary.ask({ op: "ledger.add", tenant, entry });
  }

  touch(tenant: string, id: string): void {
    this.primary.send({ swy: "note", note: { op: "ledger.touch", tenant, id } });
  }

  async remove(tenant: string, id: string): Promise<void> {
    await this.primary.ask({ op: "ledger.remove", tenant, id });
  }

  list(tenant: string): Promise<LedgerEntry[]> {
    return this.primary.ask<LedgerEntry[]>({ op: "ledger.list", tenant });
  }

  count(tenant: string): Promise<number> {
    return this.primary.ask<number>({ op: "ledger.count", tenant });
  }

  async close(): Promise<void> {}
}

class WorkerRateLimiter implements RateLimiter {
  constructor(private readonly primary: PrimaryChannel) {}

  take(tenant: string, rate: number, burst: number): Promise<number> {
    return this.primary.ask<number>({ op: "rate.take", tenant, rate, burst });
  }

  async close(): Promise<void> {}
}
