import { type Issuers, postForm } from "./issuers.js";
import type { ExchangeConfig } from "./route-auth.js";
import type { TokenClaims } from "./verifier.js";

/** Upstream tokens remembered at most (per subject and audience, until they expire). */
const MAX_KEPT = 50_000;
/** An exchanged token is used until this long before it expires (it must not expire in flight). */
const MARGIN_S = 30;

/** The issuer refused the exchange, or could not be asked: the request cannot go upstream. */
export class ExchangeFailed extends Error {
  override name = "ExchangeFailed";
}

/**
 * Token exchange (RFC 8693): the client's token, verified, is exchanged at its issuer for one whose
 * audience is the upstream, for the same subject, the gateway acting as its own client. Kept per
 * subject and audience until shortly before it expires, so the hot path pays a map lookup.
 */
export class TokenExchanger {
  private readonly kept = new Map<string, { token: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly issuers: Issuers) {}

  upstreamToken(clientToken: string, claims: TokenClaims, config: ExchangeConfig): Promise<string> {
    const key = `${claims.issuer}\u0000${claims.subject}\u0000${config.audience}\u0000${config.scope ?? ""}`;
    const kept = this.kept.get(key);
    if (kept && kept.expiresAt - MARGIN_S > Date.now() / 1000) return Promise.resolve(kept.token);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.exchange(clientToken, claims.issuer, config)
        .then(({ token, expiresAt }) => {
          if (this.kept.size >= MAX_KEPT) this.kept.delete(this.kept.keys().next().value as string);
          this.kept.set(key, { token, expiresAt });
          return token;
        })
        .finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async exchange(
    subjectToken: string,
    issuer: string,
    config: ExchangeConfig,
  ): Promise<{ token: string; expiresAt: number }> {
    const endpoint = (await this.issuers.metadata(issuer).catch(() => undefined))?.token_endpoint;
    if (!endpoint) throw new ExchangeFailed(`no token endpoint for ${issuer}`);
    const body = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: config.audience,
      client_id: config.clientId,
    });
    if (config.scope !== undefined) body.set("scope", config.scope);
    if (config.clientSecret !== undefined) body.set("client_secret", config.clientSecret);
    let answer: Record<string, unknown>;
    try {
      answer = await postForm(endpoint, body);
    } catch (err) {
      throw new ExchangeFailed(`token exchange at ${issuer} failed: ${(err as Error).message}`);
    }
    if (typeof answer.access_token !== "string") throw new ExchangeFailed("token exchange: no access_token");
    const ttl = typeof answer.expires_in === "number" ? answer.expires_in : 60;
    return { token: answer.access_token, expiresAt: Date.now() / 1000 + ttl };
  }
}
