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

  constructor(
    private readonly registry: TenantRegistry,
    private readonly jwt: JwtConfig | undefined,
  ) {
    this.jwks = jwt ? createRemoteJWKSet(new URL(jwt.jwks), { timeoutDuration: 5000 }) : undefined;
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<Caller> {
    const credential = presented(headers);
    if (credential === undefined) throw unauthorized(false);
    if (looksLikeKey(credential)) {
      const hash = hashKey(credential);
      let owner = this.registry.ownerOfKeyHash(hash);
      if (!owner) {
        // A key made on another gateway a moment ago works here at once.
        await this.registry.refresh();
        owner = this.registry.ownerOfKeyHash(hash);
      }
      if (!owner) throw unauthorized(true);
      return { tenant: owner.tenant, principal: `key:${keyId(hash)}` };
    }
    if (this.jwks && this.jwt && credential.split(".").length === 3) return this.verifyJwt(credential, this.jwt);
    throw unauthorized(true);
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
