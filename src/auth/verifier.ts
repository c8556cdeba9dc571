import { hash } from "node:crypto";
import { decodeJwt, jwtVerify } from "jose";
import type { AuthConfig } from "../config/schema.js";
import { Issuers, postForm } from "./issuers.js";

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
  /** The authorization servers' metadata and keys (shared with the token exchange). */
  readonly issuers = new Issuers();
  private readonly cache = new Map<string, TokenClaims>();

  async verify(token: string, auth: AuthConfig, audience: string): Promise<TokenClaims> {
    const key = `${hash("sha256", token, "base64url")}\u0000${audience}`;
    const now = Date.now() / 1000;
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt + auth.clockTolerance / 1000 > now && auth.issuers.includes(cached.issuer)) {
      return cached;
    }
    if (cached) this.cache.delete(key);
    // Not a JWT (three dot-separated parts): an opaque token, for the issuer to tell about.
    if (token.split(".").length !== 3) return this.remember(key, await this.introspect(token, auth, audience));
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
    return this.remember(key, claims);
  }

  private remember(key: string, claims: TokenClaims): TokenClaims {
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, claims);
    return claims;
  }

  /**
   * Token introspection (RFC 7662) at the issuer the route names, as the gateway's own client: the
   * token must be active, for this audience, with a subject and an expiry. Remembered until it expires.
   */
  private async introspect(token: string, auth: AuthConfig, audience: string): Promise<TokenClaims> {
    const config = auth.introspection;
    if (!config) throw new InvalidToken("an opaque token, and no introspection configured");
    const issuer = config.issuer ?? (auth.issuers[0] as string);
    const endpoint = await this.issuers.metadata(issuer).then(
      (m) => m.introspection_endpoint,
      () => undefined,
    );
    if (endpoint === undefined) throw new InvalidToken("the issuer offers no introspection");
    const body = new URLSearchParams({ token, token_type_hint: "access_token", client_id: config.clientId });
    if (config.clientSecret !== undefined) body.set("client_secret", config.clientSecret);
    let answer: Record<string, unknown>;
    try {
      answer = await postForm(endpoint, body);
    } catch (err) {
      throw new InvalidToken(`introspection failed: ${(err as Error).message}`);
    }
    const now = Date.now() / 1000;
    const leeway = auth.clockTolerance / 1000;
    const aud = answer.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (answer.active !== true) throw new InvalidToken("inactive");
    if (!audiences.includes(audience)) throw new InvalidToken("another audience");
    if (typeof answer.exp !== "number" || answer.exp + leeway <= now) throw new InvalidToken("expired");
    // A client-credentials token's principal is the client itself (RFC 7662 makes `sub` optional).
    const subject = typeof answer.sub === "string" && answer.sub !== "" ? answer.sub : answer.client_id;
    if (typeof subject !== "string" || subject === "") throw new InvalidToken("no subject");
    const iss = typeof answer.iss === "string" ? answer.iss : issuer;
    if (!auth.issuers.includes(iss)) throw new InvalidToken("unknown issuer");
    return {
      issuer: iss,
      subject,
      scopes: new Set((typeof answer.scope === "string" ? answer.scope : "").split(" ").filter((s) => s !== "")),
      expiresAt: answer.exp,
    };
  }
}
