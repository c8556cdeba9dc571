import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { MAX_SESSION_ID_LENGTH } from "../protocol/headers.js";

/**
 * Signed session ids: the id a client sees is an AES-256-GCM token that carries which replica holds the
 * session, when it began, and the upstream's own session id — so any gateway routes it with no store.
 * Route and principal are authenticated (GCM additional data), not stored: a token presented on another
 * route or by another principal does not open. Layout, base64url:
 *   key id (1) | iv (12) | sealed [ replica hash (4) | created, s (4) | upstream session id ] | tag (16)
 * Pure; no key derivation per request (keys are 32 raw bytes from configuration).
 */

/**
 * The longest upstream session id (UTF-8 bytes) a token can carry and still be a valid session id
 * (at most 256 base64url characters, 192 bytes): 155.
 */
export const MAX_SEALED_SESSION_ID_BYTES = (MAX_SESSION_ID_LENGTH / 4) * 3 - (1 + 12 + 8 + 16);

export interface TokenKey {
  /** 0–255; the first key of the list seals, every key opens (rotation). */
  id: number;
  /** 32 bytes. */
  secret: Buffer;
}

export interface TokenClaims {
  /** `replicaHash(url)` of the replica holding the session. */
  replica: number;
  /** Epoch seconds when the session began. */
  createdAt: number;
  /** The upstream's own session id. */
  upstreamSessionId: string;
}

/** A stable 32-bit name for a replica URL (order of the configuration does not matter). */
export function replicaHash(url: string): number {
  return createHash("sha256").update(url).digest().readUInt32BE(0);
}

function aad(route: string, principal: string): Buffer {
  return Buffer.from(`${route}\u0000${principal}`);
}

/** The token, or undefined when the upstream id is too long for one (see MAX_SEALED_SESSION_ID_BYTES). */
export function sealToken(key: TokenKey, claims: TokenClaims, route: string, principal: string): string | undefined {
  if (Buffer.byteLength(claims.upstreamSessionId, "utf8") > MAX_SEALED_SESSION_ID_BYTES) return undefined;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.secret, iv);
  cipher.setAAD(aad(route, principal));
  const head = Buffer.alloc(8);
  head.writeUInt32BE(claims.replica >>> 0, 0);
  head.writeUInt32BE(claims.createdAt >>> 0, 4);
  const sealed = Buffer.concat([cipher.update(head), cipher.update(claims.upstreamSessionId, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.of(key.id), iv, sealed, cipher.getAuthTag()]).toString("base64url");
}

/** The claims, or undefined for anything that does not open (tampered, truncated, foreign key, other route/principal). */
export function openToken(
  keys: readonly TokenKey[],
  token: string,
  route: string,
  principal: string,
): TokenClaims | undefined {
  if (token.length > 256 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const raw = Buffer.from(token, "base64url");
  // Only the canonical spelling: the decoder ignores a dangling last character and the spare low bits of
  // the last one, and a variant that opened would escape the revocation of the original (kept by string).
  if (raw.length < 1 + 12 + 8 + 16 || raw.toString("base64url") !== token) return undefined;
  const key = keys.find((k) => k.id === raw[0]);
  if (!key) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.secret, raw.subarray(1, 13));
    decipher.setAAD(aad(route, principal));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const plain = Buffer.concat([decipher.update(raw.subarray(13, raw.length - 16)), decipher.final()]);
    return {
      replica: plain.readUInt32BE(0),
      createdAt: plain.readUInt32BE(4),
      upstreamSessionId: plain.subarray(8).toString("utf8"),
    };
  } catch {
    return undefined;
  }
}

/**
 * Opens tokens with a memory of the last ones opened: a session presents the same token on every request,
 * so the hot path does no cryptography after the first. Only tokens that opened are remembered (by token,
 * route and principal together), in a bounded least-recently-used map.
 */
export class TokenOpener {
  private readonly opened = new Map<string, TokenClaims>();

  constructor(
    readonly keys: readonly TokenKey[],
    private readonly capacity = 50_000,
  ) {}

  open(token: string, route: string, principal: string): TokenClaims | undefined {
    const memo = `${route}\u0000${principal}\u0000${token}`;
    const known = this.opened.get(memo);
    if (known) return known;
    const claims = openToken(this.keys, token, route, principal);
    if (claims) {
      if (this.opened.size >= this.capacity) {
        const oldest = this.opened.keys().next();
        if (!oldest.done) this.opened.delete(oldest.value);
      }
      this.opened.set(memo, claims);
    }
    return claims;
  }
}
