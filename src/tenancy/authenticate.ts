import { hash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import type { Config } from "../config/schema.js";
import { SwitchyardError } from "../errors.js";
import { hashKey, keyId, looksLikeKey } from "./keys.js";
import type { TenantRegistry } from "./registry.js";

/** Who is asking, once authenticated. */
export interface Caller {
  tenant: string;
  /** What sessions are bound to: `key:<key id>` or `jwt:<hash of issuer and subject>`. */
  principal: string;
}

type JwtConfig = NonNullable<Config["tenants"]["jwt"]>;

function unauthorized(presented: boolean): SwitchyardError {
  const challenge = presented ? 'Bearer realm="switchyard", error="invalid_token"' : 'Bearer realm="switchyard"';
  return new SwitchyardError("SWY_UNAUTHORIZED", { headers: { "www-authenticate": challenge } });
}

/** The credential a client presented: `Authorization: Bearer X`, else `X-Api-Key: X`. */
function presented(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer +(\S+) *$/i.exec(auth);
    return m ? m[1] : "";
  }
  const key = headers["x-api-key"];
  return typeof key === "string" ? key.trim() : undefined;
}

/**
 * Authentication for tenant servers: a tenant API key (found by its hash; never compared in clear), or,
 * when `tenants.jwt` is set, a JWT signed by a key of the identity provider's JWKS, from its issuer, for
 * this gateway's audience, naming the tenant in a claim. Missing or invalid → 401 with
 * `WWW-Authenticate`.
 */
export class Authenticator {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly hashes = new Map<string, string>();

  constructor(
    private readonly registry: TenantRegistry,
    private readonly jwt: JwtConfig | undefined,
  ) {
    this.jwks = jwt ? createRemoteJWKSet(new URL(jwt.jwks), { timeoutDuration: 5000 }) : undefined;
  }

  /** The caller, at once for a key this gateway knows; a promise when the registry or the JWKS must be asked. */
  authenticate(headers: IncomingHttpHeaders): Caller | Promise<Caller> {
    const credential = presented(headers);
    if (credential === undefined) throw unauthorized(false);
    if (looksLikeKey(credential)) {
      const hash = this.hashOf(credential);
      const caller = this.keyCaller(hash);
      if (caller) return caller;
      // A key made on another gateway a moment ago works here at once.
      return this.registry.refresh().then(() => {
        const fresh = this.keyCaller(hash);
        if (!fresh) throw unauthorized(true);
        return fresh;
      });
    }
    if (this.jwks && this.jwt && credential.split(".").length === 3) return this.verifyJwt(credential, this.jwt);
    throw unauthorized(true);
  }

  /** Whose key this is, by its hash, now (a deleted key is nobody's at once). */
  private keyCaller(hash: string): Caller | undefined {
    const owner = this.registry.ownerOfKeyHash(hash);
    return owner && { tenant: owner.tenant, principal: `key:${keyId(hash)}` };
  }

  /**
   * A presented key's SHA-256, remembered for the keys seen lately (clients send theirs on every
   * request). Only the hash decides anything: a deleted key is refused at once all the same.
   */
  private hashOf(credential: string): string {
    let hash = this.hashes.get(credential);
    if (hash === undefined) {
      hash = hashKey(credential);
      if (this.hashes.size >= 1024) this.hashes.clear();
      this.hashes.set(credential, hash);
    }
    return hash;
  }

  private async verifyJwt(token: string, config: JwtConfig): Promise<Caller> {
    const jwks = this.jwks as NonNullable<typeof this.jwks>;
    let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: config.issuer, audience: config.audience }));
    } catch {
      throw unauthorized(true);
    }
    const tenant = payload[config.tenantClaim];
    if (typeof tenant !== "string" || typeof payload.sub !== "string") throw unauthorized(true);
    const subject = hash("sha256", `${payload.iss}\u0000${payload.sub}`, "base64url");
    return { tenant, principal: `jwt:${subject.slice(0, 22)}` };
  }
}
