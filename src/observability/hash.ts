import { createHash } from "node:crypto";

/** A short, stable, non-reversible label for a session id: logs carry this, never the id. */
export function hashId(id: string): string {
  return createHash("sha256").update(id).digest("base64url").slice(0, 12);
}
