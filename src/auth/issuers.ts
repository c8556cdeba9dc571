import { createRemoteJWKSet } from "jose";

/** What the gateway needs of an authorization server's metadata (RFC 8414, OpenID Connect Discovery). */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri: string;
  introspection_endpoint?: string;
  token_endpoint?: string;
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
      return {
        issuer,
        jwks_uri: doc.jwks_uri,
        ...(typeof doc.token_endpoint === "string" ? { token_endpoint: doc.token_endpoint } : {}),
        ...(typeof doc.introspection_endpoint === "string"
          ? { introspection_endpoint: doc.introspection_endpoint }
          : {}),
      };
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no metadata for issuer ${issuer}: ${(last as Error)?.message}`);
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * The authorization servers' metadata and key sets, found once and kept. jose caches each JWKS and
 * fetches it again for a `kid` it does not know, at most once per 5 s: a key rotation at the issuer is
 * picked up, a flood of made-up `kid`s is not a flood of fetches. A failed discovery is asked again on
 * the next token after RETRY_MS, not on every request.
 */
export class Issuers {
  private readonly known = new Map<string, Promise<{ metadata: IssuerMetadata; keys: KeySet }>>();

  private get(issuer: string): Promise<{ metadata: IssuerMetadata; keys: KeySet }> {
    let entry = this.known.get(issuer);
    if (entry) return entry;
    entry = discover(issuer).then((metadata) => ({
      metadata,
      keys: createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: TIMEOUT_MS, cooldownDuration: 5_000 }),
    }));
    const mine = entry;
    this.known.set(issuer, mine);
    mine.catch(() => {
      setTimeout(() => {
        if (this.known.get(issuer) === mine) this.known.delete(issuer);
      }, RETRY_MS).unref();
    });
    return mine;
  }

  async keys(issuer: string): Promise<KeySet> {
    return (await this.get(issuer)).keys;
  }

  async metadata(issuer: string): Promise<IssuerMetadata> {
    return (await this.get(issuer)).metadata;
  }
}

/** A form POSTed to an authorization server's endpoint (token, introspection): its JSON answer. */
export async function postForm(endpoint: string, form: URLSearchParams): Promise<Record<string, unknown>> {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: form,
    signal: AbortSignal.timeout(TIMEOUT_MS),
    redirect: "error",
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}
