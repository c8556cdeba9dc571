import { randomBytes } from "node:crypto";
import { isEventStream } from "../protocol/headers.js";
import { responseTo } from "../protocol/jsonrpc.js";
import { LEGACY_VERSIONS, FIRST_MODERN_VERSION as MODERN_VERSION } from "../protocol/versions.js";
import { type Finding, finding } from "./finding.js";
import { type Answer, type CheckHttp, header } from "./http.js";

export const LATEST_LEGACY = "2025-11-25";
const CLIENT = { name: "switchyard-check", version: "1" };
/** The headers of the check's POSTs. */
export const POST = { accept: "application/json, text/event-stream", "content-type": "application/json" };

/** The check's `initialize` request for `version`. */
export function initialize(version: string): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: version, capabilities: {}, clientInfo: CLIENT },
  });
}

const ping = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "ping" });

function answer(res: Answer, id: unknown): Record<string, unknown> | undefined {
  if (res.status !== 200) return undefined;
  return responseTo(res.body, isEventStream(header(res, "content-type")), id);
}

/** What the session checks learned, for the checks after them. */
export interface SessionFacts {
  findings: Finding[];
  /** The versions the endpoint accepted (legacy, and the modern one). */
  versions: string[];
}

/**
 * Speak to the endpoint as a client would: initialize, then the session's next requests each on a new
 * connection (affinity across replicas), an unknown session (404, not 400), the GET stream, DELETE, and
 * each protocol version; `WWW-Authenticate` when it asks for a credential.
 */
export async function checkSessions(http: CheckHttp, url: string, repeat: number): Promise<SessionFacts> {
  const out: Finding[] = [];
  const init = await http.send(url, { method: "POST", headers: POST, body: initialize(LATEST_LEGACY) });
  if (init.status === 401) {
    const challenge = header(init, "www-authenticate");
    out.push(
      challenge
        ? finding("auth", "pass", "401 with WWW-Authenticate", { detail: challenge })
        : finding("auth", "fail", "401 without WWW-Authenticate: clients cannot tell how to authenticate", {
            fix: "answer 401 with a WWW-Authenticate challenge (and let the proxies pass it back)",
          }),
      finding("session.id", "skip", "the endpoint asks for a credential", {
        fix: 'pass one with --header "Authorization: Bearer …" to check sessions',
      }),
    );
    return { findings: out, versions: [] };
  }
  const result = answer(init, 1)?.result as { protocolVersion?: string } | undefined;
  const versions = await offeredVersions(http, url);
  if (!result) {
    const modern = versions.includes(MODERN_VERSION);
    out.push(
      modern
        ? finding(
            "session.id",
            "skip",
            `no initialize (HTTP ${init.status}): a modern (${MODERN_VERSION}) server has no sessions`,
          )
        : finding("session.id", "fail", `initialize failed: HTTP ${init.status}`, {
            detail: init.body.toString("utf8").slice(0, 200),
            fix: "check the URL (the MCP endpoint, e.g. https://host/NAME/mcp) and that the server is up",
          }),
    );
    out.push(versionsFinding(versions), await authFinding(http, url));
    return { findings: out, versions };
  }
  const sid = header(init, "mcp-session-id");
  const version = result.protocolVersion ?? LATEST_LEGACY;
  if (sid === undefined) {
    out.push(
      finding("session.id", "warn", "initialize answered without Mcp-Session-Id", {
        detail: "a stateless server, or a proxy that hides the header (stream.headers tells which, on Switchyard)",
        fix: "if the server has sessions, let the proxies pass Mcp-Session-Id back (nginx: no proxy_hide_header)",
      }),
    );
  } else {
    out.push(finding("session.id", "pass", "initialize returned Mcp-Session-Id"));
  }
  const headers: Record<string, string> = { ...POST, "mcp-protocol-version": version };
  if (sid !== undefined) headers["mcp-session-id"] = sid;
  await http.send(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  if (sid !== undefined) out.push(await affinity(http, url, headers, repeat));
  out.push(await unknownSession(http, url, version));
  out.push(sid === undefined ? finding("stream.get", "skip", "no session") : await getStream(http, url, headers));
  out.push(
    sid === undefined ? finding("session.delete", "skip", "no session") : await deleteSession(http, url, headers),
  );
  out.push(versionsFinding(versions), await authFinding(http, url));
  return { findings: out, versions };
}

async function affinity(http: CheckHttp, url: string, headers: Record<string, string>, repeat: number) {
  const refused: string[] = [];
  for (let i = 0; i < repeat; i++) {
    const res = await http.send(url, { method: "POST", headers, body: ping(100 + i), fresh: true });
    if (!answer(res, 100 + i)) refused.push(`#${i + 1}: HTTP ${res.status}`);
  }
  if (refused.length === 0) {
    return finding(
      "session.affinity",
      "pass",
      `the session was accepted on ${repeat} requests, each on a new connection`,
    );
  }
  return finding("session.affinity", "fail", `the session was refused on ${refused.length} of ${repeat} requests`, {
    detail: refused.slice(0, 5).join(", "),
    fix: "requests reach replicas that do not know the session: put Switchyard in front (or a stick table learned from the Mcp-Session-Id response header); with several Switchyard replicas, share a Redis store",
  });
}

async function unknownSession(http: CheckHttp, url: string, version: string) {
  const bogus = `switchyard-check-${randomBytes(12).toString("hex")}`;
  const res = await http.send(url, {
    method: "POST",
    headers: { ...POST, "mcp-session-id": bogus, "mcp-protocol-version": version },
    body: ping(2),
  });
  if (res.status === 404) return finding("session.unknown", "pass", "an unknown session is answered 404");
  if (res.status === 400) {
    return finding(
      "session.unknown",
      "fail",
      "an unknown session is answered 400, not 404: clients will not re-initialize",
      {
        fix: "answer 404 for unknown or expired sessions (Switchyard in front does, for sessions it routes)",
      },
    );
  }
  return finding("session.unknown", "warn", `an unknown session is answered HTTP ${res.status}, not 404`, {
    fix: "answer 404 for unknown or expired sessions, so that clients start a new one",
  });
}

async function getStream(http: CheckHttp, url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const { accept: _a, "content-type": _c, ...rest } = headers;
  try {
    const res = await http.open(url, { ...rest, accept: "text/event-stream" }, controller.signal);
    const type = String(res.headers["content-type"] ?? "");
    controller.abort();
    res.body.on("error", () => {});
    if (res.statusCode === 200 && type.startsWith("text/event-stream")) {
      return finding("stream.get", "pass", "GET opens the session's server-to-client stream");
    }
    if (res.statusCode === 405)
      return finding("stream.get", "pass", "GET answered 405: the server offers no standalone stream");
    return finding("stream.get", "fail", `GET answered HTTP ${res.statusCode} (${type || "no content type"})`, {
      fix: "GET on the MCP endpoint must open an SSE stream or answer 405",
    });
  } catch (err) {
    return finding("stream.get", "fail", `GET failed: ${(err as Error).message}`);
  }
}

async function deleteSession(http: CheckHttp, url: string, headers: Record<string, string>) {
  const res = await http.send(url, { method: "DELETE", headers });
  if (res.status === 405) return finding("session.delete", "pass", "DELETE answered 405: clients cannot end sessions");
  if (res.status < 200 || res.status >= 300) {
    return finding("session.delete", "warn", `DELETE answered HTTP ${res.status}`, {
      fix: "DELETE should end the session (2xx) or answer 405",
    });
  }
  const after = await http.send(url, { method: "POST", headers, body: ping(3) });
  if (after.status === 404) return finding("session.delete", "pass", "DELETE ended the session (then 404)");
  return finding("session.delete", "warn", `the session still answers HTTP ${after.status} after DELETE`, {
    fix: "a deleted session must be answered 404",
  });
}

/** Each legacy version as an initialize of its own (ended at once), and the modern `server/discover`. */
async function offeredVersions(http: CheckHttp, url: string): Promise<string[]> {
  const offered: string[] = [];
  for (const version of LEGACY_VERSIONS) {
    const res = await http.send(url, { method: "POST", headers: POST, body: initialize(version) });
    const result = answer(res, 1)?.result as { protocolVersion?: string } | undefined;
    if (result?.protocolVersion === version) offered.push(version);
    const sid = header(res, "mcp-session-id");
    if (sid !== undefined) {
      await http
        .send(url, { method: "DELETE", headers: { "mcp-session-id": sid, "mcp-protocol-version": version } })
        .catch(() => {});
    }
  }
  const discover = await http.send(url, {
    method: "POST",
    headers: { ...POST, "mcp-protocol-version": MODERN_VERSION, "mcp-method": "server/discover" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 4,
      method: "server/discover",
      params: {
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
          "io.modelcontextprotocol/clientInfo": CLIENT,
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
  });
  if (answer(discover, 4)?.result !== undefined) offered.push(MODERN_VERSION);
  return offered;
}

function versionsFinding(versions: string[]): Finding {
  if (versions.length === 0) {
    return finding("versions", "fail", "no protocol version was accepted", {
      fix: `serve at least ${LATEST_LEGACY} (legacy sessions) or ${MODERN_VERSION} (stateless)`,
    });
  }
  const old = !versions.includes(LATEST_LEGACY) && !versions.includes(MODERN_VERSION);
  return finding("versions", old ? "warn" : "pass", `protocol versions accepted: ${versions.join(", ")}`, {
    ...(old ? { fix: `newer clients speak ${LATEST_LEGACY} or ${MODERN_VERSION}` } : {}),
  });
}

/** With a credential given, a wrong one must get 401 and a challenge; without, the endpoint is open. */
async function authFinding(http: CheckHttp, url: string): Promise<Finding> {
  const given = Object.keys(http.options.headers).some((h) => ["authorization", "x-api-key"].includes(h.toLowerCase()));
  if (!given) return finding("auth", "skip", "the endpoint asked for no credential");
  const res = await http.send(url, {
    method: "POST",
    headers: { ...POST, authorization: "Bearer switchyard-check-wrong", "x-api-key": "switchyard-check-wrong" },
    body: initialize(LATEST_LEGACY),
  });
  if (res.status !== 401) {
    return finding("auth", "warn", `a wrong credential is answered HTTP ${res.status}, not 401`);
  }
  return header(res, "www-authenticate")
    ? finding("auth", "pass", "a wrong credential gets 401 with WWW-Authenticate")
    : finding("auth", "fail", "401 without WWW-Authenticate: clients cannot tell how to authenticate", {
        fix: "answer 401 with a WWW-Authenticate challenge (and let the proxies pass it back)",
      });
}
