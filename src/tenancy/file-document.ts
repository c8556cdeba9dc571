import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { TenantDocument } from "./document.js";

/**
 * The tenancy document as a JSON file on local disk, for a single gateway (the default when no Redis is
 * configured). Read once at start; every change writes the whole document to a temporary file, syncs it
 * and renames it over the old one, so that a crash leaves either the old or the new document, never a
 * torn one. The file is private to the gateway's user (0600): it holds upstream credentials.
 */
export class FileDocument<T> implements TenantDocument<T> {
  private value: T;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly path: string,
    initial: () => T,
  ) {
    let text: string | undefined;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.value = text === undefined ? initial() : (JSON.parse(text) as T);
  }

  get(): T {
    return this.value;
  }

  /** Synchronous at heart: the change is on disk when this returns. */
  updateSync<R>(change: (doc: T) => R): R {
    const next = structuredClone(this.value);
    const result = change(next);
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(next, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.value = next;
    for (const l of this.listeners) l();
    return result;
  }

  async update<R>(change: (doc: T) => R): Promise<R> {
    return this.updateSync(change);
  }

  async refresh(): Promise<void> {}

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {}
}
