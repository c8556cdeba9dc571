import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * A JSON document on local disk, for the tenancy data of a single gateway (the default when no Redis is
 * configured). Read once at start; every change writes the whole document to a temporary file, syncs it
 * and renames it over the old one, so that a crash leaves either the old or the new document, never a
 * torn one.
 */
export class JsonFile<T> {
  private value: T;

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

  /** Apply a change and make it durable before returning. */
  update(change: (value: T) => void): void {
    const next = structuredClone(this.value);
    change(next);
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
  }
}
