import { type Finding, finding } from "./finding.js";
import { type CheckHttp, header } from "./http.js";
import { initialize, LATEST_LEGACY, POST } from "./session-checks.js";

const INIT = initialize(LATEST_LEGACY);

/** A challenge's parameters (`key="value"`, or a bare token). */
function params(challenge: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of challenge.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) out[m[1] as string] = m[2] as string;
  return out;
}

/**
 * A protected MCP endpoint (OAuth 2.1, as the MCP specification asks): asked with no token, 401 with a
 * `WWW-Authenticate` that points to its Protected Resource Metadata (RFC 9728); the metadata names this
 * resource and its authorization servers; asked with a made-up token, 401 `error="invalid_token"`.
 * Skipped for an endpoint that asks for no credential.
 */
export async function checkOAuth(http: CheckHttp, url: string): Promise<Finding> {
  const bare = await http.send(url, { method: "POST", headers: POST, body: INIT, anonymous: true });
  if (bare.status !== 401) return finding("oauth", "skip", "the endpoint asks for no token");
  const challenge = header(bare, "www-authenticate") ?? "";
  const p = params(challenge);
  const fix = 'answer 401 with WWW-Authenticate: Bearer resource_metadata="…" (RFC 9728), and serve that document';
  if (!/^Bearer\b/i.test(challenge) || p.resource_metadata === undefined) {
    return finding("oauth", "warn", "401 without a Bearer challenge naming resource_metadata", {
      detail: challenge,
      fix,
    });
  }
  const metadataRes = await http.send(p.resource_metadata, { anonymous: true }).catch((err: Error) => err);
  if (metadataRes instanceof Error) {
    return finding("oauth", "fail", `the resource metadata (${p.resource_metadata}) cannot be fetched`, {
      detail: metadataRes.message,
      fix: "set publicUrl (or auth.audience) to the URL clients use: the metadata's address comes from it",
    });
  }
  let metadata: { resource?: unknown; authorization_servers?: unknown } | undefined;
  try {
    metadata = metadataRes.status === 200 ? JSON.parse(metadataRes.body.toString("utf8")) : undefined;
  } catch {
    metadata = undefined;
  }
  if (!metadata) {
    return finding(
      "oauth",
      "fail",
      `the resource metadata (${p.resource_metadata}) answers HTTP ${metadataRes.status}`,
      {
        fix,
      },
    );
  }
  const servers = Array.isArray(metadata.authorization_servers) ? metadata.authorization_servers : [];
  if (servers.length === 0) {
    return finding("oauth", "fail", "the resource metadata names no authorization server", { fix });
  }
  if (metadata.resource !== url) {
    return finding("oauth", "warn", `the resource metadata names ${String(metadata.resource)}, not this endpoint`, {
      detail:
        "clients ask for tokens for the resource it names (RFC 8707): behind a proxy, is the public URL configured?",
      fix: "set publicUrl (or auth.audience) to the URL clients use",
    });
  }
  const forged = await http.send(url, {
    method: "POST",
    headers: { ...POST, authorization: "Bearer switchyard-check-made-up-token" },
    body: INIT,
    anonymous: true,
  });
  const second = params(header(forged, "www-authenticate") ?? "");
  if (forged.status !== 401 || second.error !== "invalid_token") {
    return finding("oauth", "fail", `a made-up token gets HTTP ${forged.status}, not 401 error="invalid_token"`, {
      fix: "verify every token: signature, issuer, audience, expiry",
    });
  }
  return finding("oauth", "pass", "401 challenges point to the resource metadata; a made-up token is refused", {
    detail: `authorization servers: ${servers.join(", ")}${p.scope ? `; scope: ${p.scope}` : ""}`,
  });
}
