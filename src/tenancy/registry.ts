import { join } from "node:path";
import { JsonFile } from "./file-store.js";
import { keyId, type NewKey, newKey } from "./keys.js";

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

export interface Tenant {
  id: string;
  createdAt: string;
  keys: Record<string, KeyRecord>;
  servers?: Record<string, TenantServer>;
}

interface State {
  version: 1;
  tenants: Record<string, Tenant>;
}

export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Tenants and their keys, kept on local disk (`DATA_DIR/tenants.json`); a key is found by its hash. */
export class TenantRegistry {
  private readonly file: JsonFile<State>;
  private byHash = new Map<string, { tenant: string; key: string }>();

  constructor(dataDir: string) {
    this.file = new JsonFile<State>(join(dataDir, "tenants.json"), () => ({ version: 1, tenants: {} }));
    this.index();
  }

  private index(): void {
    this.byHash = new Map();
    for (const t of Object.values(this.file.get().tenants)) {
      for (const k of Object.values(t.keys)) this.byHash.set(k.hash, { tenant: t.id, key: k.id });
    }
  }

  list(): Tenant[] {
    return Object.values(this.file.get().tenants);
  }

  get(id: string): Tenant | undefined {
    return Object.hasOwn(this.file.get().tenants, id) ? this.file.get().tenants[id] : undefined;
  }

  /** False when the tenant exists already. */
  create(id: string): boolean {
    if (this.get(id)) return false;
    this.file.update((s) => {
      s.tenants[id] = { id, createdAt: new Date().toISOString(), keys: {} };
    });
    return true;
  }

  /** False when there was no such tenant. Its keys stop working at once. */
  delete(id: string): boolean {
    if (!this.get(id)) return false;
    this.file.update((s) => {
      delete s.tenants[id];
    });
    this.index();
    return true;
  }

  /** A new key for the tenant (shown once), or undefined for an unknown tenant. */
  addKey(tenant: string): NewKey | undefined {
    if (!this.get(tenant)) return undefined;
    const created = newKey();
    this.file.update((s) => {
      (s.tenants[tenant] as Tenant).keys[created.id] = {
        id: created.id,
        hash: created.hash,
        createdAt: new Date().toISOString(),
      };
    });
    this.byHash.set(created.hash, { tenant, key: created.id });
    return created;
  }

  /** False when the tenant or the key is unknown. */
  revokeKey(tenant: string, id: string): boolean {
    const t = this.get(tenant);
    if (!t || !Object.hasOwn(t.keys, id)) return false;
    this.file.update((s) => {
      delete (s.tenants[tenant] as Tenant).keys[id];
    });
    this.index();
    return true;
  }

  /** Add or replace a server of the tenant; false for an unknown tenant. */
  putServer(tenant: string, server: TenantServer): boolean {
    if (!this.get(tenant)) return false;
    this.file.update((s) => {
      const t = s.tenants[tenant] as Tenant;
      t.servers ??= {};
      t.servers[server.name] = server;
    });
    return true;
  }

  servers(tenant: string): TenantServer[] {
    return Object.values(this.get(tenant)?.servers ?? {});
  }

  /** False when the tenant or the server is unknown. */
  deleteServer(tenant: string, name: string): boolean {
    const t = this.get(tenant);
    if (!t?.servers || !Object.hasOwn(t.servers, name)) return false;
    this.file.update((s) => {
      delete (s.tenants[tenant] as Tenant).servers?.[name];
    });
    return true;
  }

  /** The tenant a presented key's hash belongs to. */
  tenantOfKeyHash(hash: string): string | undefined {
    return this.byHash.get(hash)?.tenant;
  }

  static keyIdOf(hash: string): string {
    return keyId(hash);
  }
}
