import { hash } from "node:crypto";

/** A short, stable, non-reversible label for a session id: logs carry this, never the id. */
export function hashId(id: string): string {
  return hash("sha256", id, "base64url").slice(0, 12);
}
