/**
 * The tenancy data (tenants, their keys, servers, quotas and allowlists) as one small document, read from
 * memory on the hot path and changed through `update`, which makes the change durable (and, with Redis,
 * visible to every gateway replica) before it resolves. Two implementations: a JSON file on local disk
 * (`file-document.ts`, the default) and a Redis key shared by every gateway (`redis-document.ts`).
 */
export interface TenantDocument<T> {
  get(): T;
  /**
   * Apply `change` to a copy of the current document and store it; resolves with what `change` returned.
   * `change` may throw to refuse (nothing is stored) and may be called again on a newer document when
   * another gateway changed it in between.
   */
  update<R>(change: (doc: T) => R): Promise<R>;
  /**
   * Make sure the copy is current (for a miss — an unknown key or server — that a change on another
   * gateway, not yet announced here, may explain). Cheap and coalesced; a no-op where there is no other
   * gateway.
   */
  refresh(): Promise<void>;
  /** Called whenever the document changes (here or on another gateway). */
  onChange(listener: () => void): void;
  close(): Promise<void>;
}
