import { fileURLToPath } from "node:url";
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
  });
}
