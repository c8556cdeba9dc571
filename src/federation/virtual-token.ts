import type { GatewayState } from "../gateway/state.js";
import { MAX_SEALED_SESSION_ID_BYTES, sealToken, type TokenKey } from "../sessions/token.js";
import type { Hello } from "./member-link.js";

/**
 * A virtual session's signed id (`affinity: token`): the client's hello and the session's start, sealed
 * with the gateway's token keys and bound to the virtual server and the principal — so that any gateway
 * replica continues the session, and opens its own member sessions with the client's capabilities, with
 * no store between them. Member sessions do not fit in an id (at most 256 characters): each gateway
 * replica keeps its own in its store. A hello too large for an id loses, in turn, what matters least:
 * the client's version, its capabilities' details (their names stay), its name beyond 32 characters.
 */

const routeOf = (virtual: string) => `virtual/${virtual}`;

function fits(text: string): boolean {
  return Buffer.byteLength(text, "utf8") <= MAX_SEALED_SESSION_ID_BYTES;
}

/** The hello as the id carries it: `[protocolVersion, capabilities, name, version]`. */
export function helloText(hello: Hello): string {
  const { protocolVersion: v, capabilities: caps, clientInfo } = hello;
  const name = String(clientInfo.name ?? "");
  const full = JSON.stringify([v, caps, name, String(clientInfo.version ?? "")]);
  if (fits(full)) return full;
  const names = Object.fromEntries(Object.keys(caps).map((k) => [k, {}]));
  const lean = JSON.stringify([v, names, name.slice(0, 32), ""]);
  return fits(lean) ? lean : JSON.stringify([v, {}, name.slice(0, 32), ""]);
}

export function helloOfText(text: string): Hello | undefined {
  try {
    const [protocolVersion, capabilities, name, version] = JSON.parse(text) as [
      string,
      Hello["capabilities"],
      string,
      string,
    ];
    if (typeof protocolVersion !== "string" || capabilities === null || typeof capabilities !== "object")
      return undefined;
    return { protocolVersion, capabilities, clientInfo: { name, version } };
  } catch {
    return undefined;
  }
}

/** A new virtual session's id, sealed with the first token key. */
export function sealVirtualSession(
  tokens: NonNullable<GatewayState["tokens"]>,
  virtual: string,
  principal: string,
  hello: Hello,
): string {
  const key = tokens.opener.keys[0] as TokenKey;
  const token = sealToken(
    key,
    { replica: 0, createdAt: Math.floor(Date.now() / 1000), upstreamSessionId: helloText(hello) },
    routeOf(virtual),
    principal,
  );
  // helloText always fits: the token is always made.
  return token as string;
}

/**
 * The hello a virtual session id carries, if it opens for this virtual server and principal, is not past
 * `tokens.maxAge` and was not ended (DELETE revokes it for every gateway sharing revocations); and when
 * it expires.
 */
export function openVirtualSession(
  gw: GatewayState,
  tokens: NonNullable<GatewayState["tokens"]>,
  virtual: string,
  principal: string,
  sid: string,
): { hello: Hello; expiresAt: number } | undefined {
  const claims = tokens.opener.open(sid, routeOf(virtual), principal);
  if (!claims) return undefined;
  const expiresAt = claims.createdAt * 1000 + 999 + tokens.maxAgeMs;
  if (Date.now() > expiresAt || gw.store.isRevoked(virtual, sid)) return undefined;
  const hello = helloOfText(claims.upstreamSessionId);
  return hello && { hello, expiresAt };
}
