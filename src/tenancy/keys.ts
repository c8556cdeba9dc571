import { hash, randomBytes } from "node:crypto";

/**
 * Tenant API keys: shown once at creation, kept only as a hash. A key is `swy_` + 32 random bytes
 * (base64url); its id (the hash's first 12 characters) names it in listings and logs. Pure but for the
 * randomness.
 */
export interface NewKey {
  id: string;
  key: string;
  hash: string;
}

export function hashKey(key: string): string {
  return hash("sha256", key, "base64url");
}

export function keyId(hash: string): string {
  return hash.slice(0, 12);
}

export function newKey(): NewKey {
  const key = `swy_${randomBytes(32).toString("base64url")}`;
  const hash = hashKey(key);
  return { id: keyId(hash), key, hash };
}

/** Whether a presented value has the shape of a key (cheap refusal before any lookup). */
export function looksLikeKey(value: string): boolean {
  return /^swy_[A-Za-z0-9_-]{43}$/.test(value);
}
