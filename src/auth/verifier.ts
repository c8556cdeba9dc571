import { hash } from "node:crypto";
import { decodeJwt, jwtVerify } from "jose";
import type { AuthConfig } from "../config/schema.js";
import { Issuers } from "./issuers.js";

/** What a verified access token says: who, for which scopes, until when. */
export interface TokenClaims {
  issuer: string;
  subject: string;
  scopes: ReadonlySet<string>;
  /** Epoch seconds. */
  expiresAt: number;
}

/** A token that is not valid for this route (the challenge says `invalid_token`, nothing more). */
export class InvalidToken extends Error {
  override name = "InvalidToken";
}

/** Verified tokens remembered at most (by their hash, until they expire). */
const MAX_CACHED = 50_000;

/**
 * Verification of bearer tokens (JWT access tokens, RFC 9068) for protected routes: the signature by a
 * key of the issuer's JWKS with an allowed algorithm, `iss` one of the route's issuers, `aud` the route's
 * audience, `exp` and `nbf` with the route's leeway, and a subject. A verified token is remembered by its
 * hash (with the audience) until it expires: the hot path pays one hash.
 */
export class BearerVerifier {
  private readonly issuers = new Issuers();
  private readonly cache = new Map<string, TokenClaims>();

  async verify(token: string, auth: AuthConfig, audience: string): Promise<TokenClaims> {
    const key = `${hash("sha256", token, "base64url")}\u0000${audience}`;
    const now = Date.now() / 1000;
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt + auth.clockTolerance / 1000 > now && auth.issuers.includes(cached.issuer)) {
      return cached;
    }
    if (cached) this.cache.delete(key);
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new InvalidToken("not a JWT");
    }
    if (typeof issuer !== "string" || !auth.issuers.includes(issuer)) throw new InvalidToken("unknown issuer");
    const keys = await this.issuers.keys(issuer).catch((err: Error) => {
      throw new InvalidToken(`issuer unavailable: ${err.message}`);
    });
    let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience,
        algorithms: auth.algorithms,
        clockTolerance: Math.round(auth.clockTolerance / 1000),
        requiredClaims: ["exp"],
      }));
    } catch (err) {
      throw new InvalidToken((err as Error).message);
    }
    if (typeof payload.sub !== "string" || payload.sub === "") throw new InvalidToken("no subject");
    const scope = typeof payload.scope === "string" ? payload.scope : "";
    const claims: TokenClaims = {
      issuer,
      subject: payload.sub,
      scopes: new Set(scope.split(" ").filter((s) => s !== "")),
      expiresAt: payload.exp as number,
    };
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, claims);
    return claims;
  }
}
