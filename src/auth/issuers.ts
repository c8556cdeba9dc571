import { createRemoteJWKSet } from "jose";

/** What the gateway needs of an authorization server's metadata (RFC 8414, OpenID Connect Discovery). */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri: string;
}

const TIMEOUT_MS = 5000;
/** A failed metadata fetch is retried on the next token after this long, not on every request. */
const RETRY_MS = 5000;

/**
 * RFC 8414 §3 first (`/.well-known/oauth-authorization-server` inserted before the issuer's path), then
 * OpenID discovery (`/.well-known/openid-configuration` appended). The document must name the issuer
 * exactly (a mix-up defence).
 */
async function discover(issuer: string): Promise<IssuerMetadata> {
  const u = new URL(issuer);
  const path = u.pathname === "/" ? "" : u.pathname.replace(/\/$/, "");
  const candidates = [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
  ];
  let last: unknown;
  for (const url of candidates) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "error" });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      const doc = (await res.json()) as Partial<IssuerMetadata>;
      if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${String(doc.issuer)}, not ${issuer}`);
      if (typeof doc.jwks_uri !== "string") throw new Error(`${url} has no jwks_uri`);
      return { issuer, jwks_uri: doc.jwks_uri };
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no metadata for issuer ${issuer}: ${(last as Error)?.message}`);
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * The authorization servers' key sets, found through their metadata once and kept. jose caches each
 * JWKS and fetches it again for a `kid` it does not know, at most once per 5 s: a key rotation at
 * the issuer is picked up, a flood of made-up `kid`s is not a flood of fetches.
 */
export class Issuers {
  private readonly sets = new Map<string, { at: number; keys: Promise<KeySet> }>();

  keys(issuer: string): Promise<KeySet> {
    const known = this.sets.get(issuer);
    if (known) return known.keys;
    const keys = discover(issuer).then((m) =>
      createRemoteJWKSet(new URL(m.jwks_uri), { timeoutDuration: TIMEOUT_MS, cooldownDuration: 5_000 }),
    );
    const entry = { at: Date.now(), keys };
    this.sets.set(issuer, entry);
    keys.catch(() => {
      // Not cached as a failure for long: the next token after RETRY_MS asks again.
      setTimeout(() => {
        if (this.sets.get(issuer) === entry) this.sets.delete(issuer);
      }, RETRY_MS).unref();
    });
    return keys;
  }
}
