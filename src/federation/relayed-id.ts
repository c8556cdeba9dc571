/**
 * A member's own request to the client (sampling, elicitation, `roots/list`) goes out under an id that
 * names the member: two members may both ask with id 0, and the client's answer, which may reach any
 * gateway replica, must go back to the member that asked, with the id it chose. Nothing is kept: the id
 * carries it all. Pure.
 */

const PREFIX = "swy/";

export function relayedId(member: string, id: unknown): string {
  return `${PREFIX}${member}/${JSON.stringify(id)}`;
}

/** The member and its own id behind a relayed id; undefined for an id the gateway never gave. */
export function relayedOrigin(id: unknown): { member: string; id: string | number } | undefined {
  if (typeof id !== "string" || !id.startsWith(PREFIX)) return undefined;
  const slash = id.indexOf("/", PREFIX.length);
  if (slash < 0) return undefined;
  try {
    const original = JSON.parse(id.slice(slash + 1)) as unknown;
    if (typeof original !== "string" && typeof original !== "number") return undefined;
    return { member: id.slice(PREFIX.length, slash), id: original };
  } catch {
    return undefined;
  }
}
