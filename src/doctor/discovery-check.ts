import { type Finding, finding } from "./finding.js";
import type { CheckHttp } from "./http.js";

interface Entry {
  mcp?: { endpoint?: string; protocolVersions?: string[] };
  serverCard?: string;
}

function json(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Discovery: `/.well-known/mcp` lists this endpoint with the versions it accepts, and its server card
 * names the endpoint among its remotes.
 */
export async function checkDiscovery(http: CheckHttp, url: string, versions: string[]): Promise<Finding> {
  const fix = "serve /.well-known/mcp and a server card that name this endpoint (Switchyard: discovery.enabled)";
  const res = await http.send(new URL("/.well-known/mcp", url).href);
  const doc = res.status === 200 ? (json(res.body) as (Entry & { servers?: Entry[] }) | undefined) : undefined;
  if (!doc) return finding("discovery", "warn", `no /.well-known/mcp (HTTP ${res.status})`, { fix });
  const entries = doc.servers ?? [doc];
  const entry = entries.find((e) => e.mcp?.endpoint === url);
  if (!entry) {
    const listed = entries.map((e) => e.mcp?.endpoint).filter(Boolean);
    return finding("discovery", "warn", "/.well-known/mcp does not list this endpoint", {
      detail: `it lists: ${listed.join(", ") || "nothing"} (behind a proxy: is the public URL configured?)`,
      fix,
    });
  }
  const claimed = entry.mcp?.protocolVersions ?? [];
  const unanswered = claimed.filter((v) => !versions.includes(v));
  if (versions.length > 0 && unanswered.length > 0) {
    return finding(
      "discovery",
      "warn",
      `/.well-known/mcp claims versions the endpoint refused: ${unanswered.join(", ")}`,
      {
        fix,
      },
    );
  }
  const cardUrl = entry.serverCard ?? `${url}/server-card`;
  const card = await http.send(cardUrl);
  const remotes = (card.status === 200 ? (json(card.body) as { remotes?: Array<{ url?: string }> }) : undefined)
    ?.remotes;
  if (!remotes?.some((r) => r.url === url)) {
    return finding(
      "discovery",
      "warn",
      `the server card (${cardUrl}, HTTP ${card.status}) does not name this endpoint`,
      {
        fix,
      },
    );
  }
  return finding("discovery", "pass", "/.well-known/mcp and the server card name this endpoint", {
    detail: claimed.length > 0 ? `versions: ${claimed.join(", ")}` : undefined,
  });
}
