import { fileURLToPath } from "node:url";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { type Managed, ROOT, spawnManaged } from "./procs.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/oauth-server.mjs", import.meta.url));
/** oidc-provider needs Node ≥ 22: the node@22 dev dependency runs it. */
const NODE22 = `${ROOT}/node_modules/node/bin/node`;

export const CLIENT = { id: "test-client", secret: "test-client-secret-0123456789" };

export interface AuthServer extends Managed {
  issuer: string;
  /** A real token from the server (client credentials, RFC 8707 `resource`), for `scope`. */
  token(resource: string, scope: string): Promise<string>;
  /** A token signed with the server's own key, carrying exactly `claims` (besides `iss`, unless given). */
  mint(claims: Record<string, unknown>): Promise<string>;
  /** Replace its signing key (new `kid`): tokens issued from now on are signed with it. */
  rotate(): Promise<string>;
  /** Introspection requests it has answered. */
  introspections(): Promise<number>;
  /** Token exchanges (RFC 8693) it has made. */
  exchanges(): Promise<number>;
}

/** A real authorization server (`test/fixtures/oauth-server.mjs`, oidc-provider) on a free port. */
export async function startAuthServer(): Promise<AuthServer> {
  const proc = spawnManaged(NODE22, [FIXTURE, "--port", "0"]);
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  const issuer = (JSON.parse(line) as { url: string }).url;
  const post = async (path: string, body: string | object, form = false) => {
    const res = await fetch(`${issuer}${path}`, {
      method: "POST",
      headers: { "content-type": form ? "application/x-www-form-urlencoded" : "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, string>;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const stats = async () =>
    (await (await fetch(`${issuer}/_test/stats`)).json()) as { introspections: number; exchanges: number };
  return Object.assign(proc, {
    issuer,
    async token(resource: string, scope: string) {
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        resource,
        scope,
      });
      return (await post("/token", form.toString(), true)).access_token as string;
    },
    async mint(claims: Record<string, unknown>) {
      return (await post("/_test/mint", { claims })).token as string;
    },
    async rotate() {
      return (await post("/_test/rotate", {})).kid as string;
    },
    introspections: async () => (await stats()).introspections,
    exchanges: async () => (await stats()).exchanges,
  });
}

/**
 * The MCP SDK's OAuth client side, with a scripted user: `redirectToAuthorization` follows the
 * authorization server's pages as a browser would (oidc-provider's development login and consent forms,
 * cookies kept), and keeps the code the server redirects back with. Registration is dynamic (RFC 7591).
 */
export function scriptedOAuthClient(user = "alice") {
  const redirect = "http://127.0.0.1:1/callback";
  let info: OAuthClientInformationMixed | undefined;
  let tokens: OAuthTokens | undefined;
  let verifier = "";
  let code: string | undefined;
  let iss: string | undefined;
  const provider: OAuthClientProvider = {
    get redirectUrl() {
      return redirect;
    },
    get clientMetadata() {
      return {
        client_name: "switchyard-test",
        redirect_uris: [redirect],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        // Every scope it may ever ask for (the server keeps a registered client to them).
        scope: "mcp:read mcp:admin",
      };
    },
    clientInformation: () => info,
    saveClientInformation: (i) => {
      info = i;
    },
    tokens: () => tokens,
    saveTokens: (t) => {
      tokens = t;
    },
    saveCodeVerifier: (v) => {
      verifier = v;
    },
    codeVerifier: () => verifier,
    async redirectToAuthorization(url: URL) {
      ({ code, iss } = await browse(url, redirect, user));
    },
  };
  return {
    provider,
    /** The authorization code of the last redirect, and the issuer it named (RFC 9207). */
    code: () => code,
    iss: () => iss,
    tokens: () => tokens,
  };
}

/** Follow redirects and submit the login and consent forms, until the redirect to `redirect`: its code. */
async function browse(start: URL, redirect: string, user: string): Promise<{ code: string; iss: string | undefined }> {
  const cookies = new Map<string, string>();
  let url = start.href;
  let method = "GET";
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(redirect)) {
      const back = new URL(url).searchParams;
      const found = back.get("code");
      if (!found) throw new Error(`redirected back without a code: ${url}`);
      return { code: found, iss: back.get("iss") ?? undefined };
    }
    const res = await fetch(url, {
      method,
      redirect: "manual",
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(body ? { body } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = (pair as string).indexOf("=");
      cookies.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
    }
    const location = res.headers.get("location");
    if (location) {
      url = new URL(location, url).href;
      method = "GET";
      body = undefined;
      continue;
    }
    const html = await res.text();
    // A login form (login, password) or a consent form (a button): submit it.
    const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1];
    if (!action) throw new Error(`no form and no redirect at ${url} (${res.status}): ${html.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const [input] of html.matchAll(/<input[^>]*>/gi)) {
      const name = /name="([^"]+)"/i.exec(input)?.[1];
      if (name !== undefined) fields.set(name, /value="([^"]*)"/i.exec(input)?.[1] ?? "");
    }
    if (fields.has("login")) fields.set("login", user);
    if (fields.has("password")) fields.set("password", "any");
    url = new URL(action.replace(/&amp;/g, "&"), url).href;
    method = "POST";
    body = fields.toString();
  }
  throw new Error("too many hops before the redirect back");
}
