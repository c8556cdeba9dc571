import type { TenantDocument } from "./document.js";
import { type NewKey, newKey } from "./keys.js";

export interface KeyRecord {
  id: string;
  /** sha256 of the key, base64url: the key itself is never kept. */
  hash: string;
  createdAt: string;
}

/** An MCP server a tenant registered: reached at `/TENANT/NAME/mcp`, always through the SSRF guard. */
export interface TenantServer {
  name: string;
  /** Canonical URL (checked at registration, and again at every connection). */
  url: string;
  transport: "streamable-http" | "sse";
  /** Upstream credentials injected on the way up; secret: never shown back, only their names. */
  headers: Record<string, string>;
  createdAt: string;
}

/** What one tenant may use; each unset field takes the operator's default (`tenants.quotas`). */
export interface Quotas {
  /** Sessions open at once (legacy and HTTP+SSE). */
  sessions: number;
  /** Long-lived streams open at once, per gateway replica. */
  streams: number;
  /** Requests per second (token bucket), shared by every gateway replica with a Redis store. */
  rps: number;
  /** Requests allowed in a burst above the rate. */
  burst: number;
  /** Largest request body. */
  maxBodyBytes: number;
}

export interface Tenant {
  id: string;
  createdAt: string;
  keys: Record<string, KeyRecord>;
  servers?: Record<string, TenantServer>;
  quotas?: Partial<Quotas>;
  /** Private networks (CIDRs) and host names this tenant's servers may reach despite the SSRF guard. */
  allow?: string[];
}

export interface TenancyState {
  version: 1;
  tenants: Record<string, Tenant>;
}

export const emptyTenancy = (): TenancyState => ({ version: 1, tenants: {} });

export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `record[key]` if it is the record's own (ids come from requests: never `__proto__` and the like). */
function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Who a key belongs to. */
export interface KeyOwner {
  tenant: string;
  key: string;
}

/**
 * Tenants, their keys, servers, quotas and allowlists, over a `TenantDocument` (a file on local disk, or
 * Redis shared by every gateway). Reads are from memory; a key is found by its hash through an index
 * rebuilt whenever the document changes (here or on another gateway).
 */
export class TenantRegistry {
  private byHash = new Map<string, KeyOwner>();
  private listeners: (() => void)[] = [];

  constructor(private readonly doc: TenantDocument<TenancyState>) {
    this.index();
    doc.onChange(() => {
      this.index();
      for (const l of this.listeners) l();
    });
  }

  private index(): void {
    this.byHash = new Map();
    for (const t of Object.values(this.doc.get().tenants)) {
      for (const k of Object.values(t.keys)) this.byHash.set(k.hash, { tenant: t.id, key: k.id });
    }
  }

  /** Called after every change of the document. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  list(): Tenant[] {
    return Object.values(this.doc.get().tenants);
  }

  get(id: string): Tenant | undefined {
    return own(this.doc.get().tenants, id);
  }

  /** False when the tenant exists already. */
  create(id: string, settings: Pick<Tenant, "quotas" | "allow"> = {}): Promise<boolean> {
    return this.doc.update((s) => {
      if (own(s.tenants, id)) return false;
      s.tenants[id] = { id, createdAt: new Date().toISOString(), keys: {}, ...settings };
      return true;
    });
  }

  /** Replace the tenant's quotas, or its allowlist, or both (what `settings` holds); false for an unknown tenant. */
  configure(id: string, settings: Pick<Tenant, "quotas" | "allow">): Promise<boolean> {
    return this.doc.update((s) => {
      const t = own(s.tenants, id);
      if (!t) return false;
      if (settings.quotas !== undefined) t.quotas = settings.quotas;
      if (settings.allow !== undefined) t.allow = settings.allow;
      return true;
    });
  }

  /** False when there was no such tenant. Its keys stop working at once. */
  delete(id: string): Promise<boolean> {
    return this.doc.update((s) => {
      if (!own(s.tenants, id)) return false;
      delete s.tenants[id];
      return true;
    });
  }

  /** A new key for the tenant (shown once), or undefined for an unknown tenant. */
  addKey(tenant: string): Promise<NewKey | undefined> {
    const created = newKey();
    return this.doc.update((s) => {
      const t = own(s.tenants, tenant);
      if (!t) return undefined;
      t.keys[created.id] = { id: created.id, hash: created.hash, createdAt: new Date().toISOString() };
      return created;
    });
  }

  /** False when the tenant or the key is unknown. */
  revokeKey(tenant: string, id: string): Promise<boolean> {
    return this.doc.update((s) => {
      const t = own(s.tenants, tenant);
      if (!t || !own(t.keys, id)) return false;
      delete t.keys[id];
      return true;
    });
  }

  /** Add or replace a server of the tenant; `created` says which, undefined for an unknown tenant. */
  putServer(
    tenant: string,
    server: TenantServer,
    mode: "create" | "replace",
  ): Promise<"created" | "replaced" | "exists" | undefined> {
    return this.doc.update((s) => {
      const t = own(s.tenants, tenant);
      if (!t) return undefined;
      t.servers ??= {};
      const existing = own(t.servers, server.name);
      if (existing && mode === "create") return "exists";
      t.servers[server.name] = existing ? { ...server, createdAt: existing.createdAt } : server;
      return existing ? "replaced" : "created";
    });
  }

  servers(tenant: string): TenantServer[] {
    return Object.values(this.get(tenant)?.servers ?? {});
  }

  server(tenant: string, name: string): TenantServer | undefined {
    return own(this.get(tenant)?.servers, name);
  }

  /** False when the tenant or the server is unknown. */
  deleteServer(tenant: string, name: string): Promise<boolean> {
    return this.doc.update((s) => {
      const servers = own(s.tenants, tenant)?.servers;
      if (!servers || !own(servers, name)) return false;
      delete servers[name];
      return true;
    });
  }

  /** The tenant and key a presented key's hash belongs to. */
  ownerOfKeyHash(hash: string): KeyOwner | undefined {
    return this.byHash.get(hash);
  }

  /** After a miss: read the document again if another gateway changed it (see `TenantDocument.refresh`). */
  refresh(): Promise<void> {
    return this.doc.refresh();
  }

  close(): Promise<void> {
    return this.doc.close();
  }
}
