import { hash } from "node:crypto";

/** Ids hashed lately: a session's requests come one after another, each would hash the same id again. */
const recent = new Map<string, string>();
const RECENT = 4096;

/** A short, stable, non-reversible label for a session id: logs carry this, never the id. */
export function hashId(id: string): string {
  let h = recent.get(id);
  if (h === undefined) {
    h = hash("sha256", id, "base64url").slice(0, 12);
    if (recent.size >= RECENT) recent.clear();
    recent.set(id, h);
  }
  return h;
}
