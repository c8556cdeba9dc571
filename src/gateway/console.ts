import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

/** Where the console's built page is: beside this module's directory in dist (`npm run build`). */
const DIR = fileURLToPath(new URL("../console/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/**
 * Nothing but the console's own files, and no inline script or style: what another page (or an injected
 * string) could add does not run. Its only requests are to the admin API, on this origin.
 */
const HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  // Revalidated on each load (a new gateway version serves a new console), answered 304 when unchanged.
  "cache-control": "no-cache",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

let assets: Map<string, Asset> | undefined;

/** The console's files, read once (a few tens of KB); none when the page was not built. */
function load(): Map<string, Asset> {
  if (assets) return assets;
  assets = new Map();
  let names: string[] = [];
  try {
    names = readdirSync(DIR);
  } catch {
    // not built: the console answers 404
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(DIR, name));
    assets.set(name, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` });
  }
  return assets;
}

/**
 * The operator's console (`/console/`): a page that signs in with the admin token (or the read-only
 * one) and calls the admin API from the browser. Served with the admin API, when it is enabled, or only
 * on its own listener (`console.listen`, `ownListener`); true when the request was for it. The page itself holds no secret: everything it shows comes from the API.
 */
export function serveConsole(ctx: RequestContext, gw: GatewayState, ownListener = false): boolean {
  const { path } = ctx;
  if (path !== "/console" && !path.startsWith("/console/")) return false;
  const { enabled, listen } = gw.config.console;
  if (!enabled || gw.config.admin.token === undefined || (listen !== undefined && !ownListener)) return false;
  const method = ctx.req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET, HEAD" } });
  }
  if (path === "/console") {
    ctx.res.writeHead(308, { location: "/console/" }).end();
    return true;
  }
  const name = path === "/console/" ? "index.html" : path.slice("/console/".length);
  const asset = load().get(name);
  if (!asset) throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
  if (ctx.req.headers["if-none-match"] === asset.etag) {
    ctx.res.writeHead(304, { ...HEADERS, etag: asset.etag }).end();
    return true;
  }
  ctx.res.writeHead(200, {
    ...HEADERS,
    "content-type": asset.type,
    "content-length": asset.body.length,
    etag: asset.etag,
  });
  ctx.res.end(method === "HEAD" ? undefined : asset.body);
  return true;
}
