/**
 * What one entry of `upstreams.NAME.replicas` names (pure): one process (`http://10.0.0.5:3000/mcp`), or
 * a DNS name whose records are the replicas —
 * - `dns+http://NAME:PORT/PATH` (`dns+https://`): every A/AAAA address of NAME, on PORT and PATH;
 * - `dns+srv+http://_SERVICE._tcp.NAME/PATH`: every SRV target, on the port the record gives.
 * `sse+` after `dns+` (or `dns+srv+`), or before a static URL, says the replicas speak HTTP+SSE.
 */
export type ReplicaEntry =
  | { kind: "static"; url: string; sse: boolean }
  | { kind: "dns"; protocol: "http:" | "https:"; name: string; port: number; path: string; sse: boolean }
  | { kind: "srv"; protocol: "http:" | "https:"; name: string; path: string; sse: boolean };

const PREFIX = /^(dns\+(srv\+)?)?(sse\+)?(https?:\/\/.*)$/is;

/** The entry, or a reason it is not one (for the configuration's error). */
export function parseReplicaEntry(entry: string): ReplicaEntry | { error: string } {
  const m = PREFIX.exec(entry);
  if (!m) return { error: "must be an http:// or https:// URL (or dns+http://, dns+srv+http://, sse+http://)" };
  const [, dns, srv, sse, rest] = m as unknown as [
    string,
    string | undefined,
    string | undefined,
    string | undefined,
    string,
  ];
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    return { error: "is not a valid URL" };
  }
  if (url.username !== "" || url.password !== "") return { error: "must not carry credentials" };
  const protocol = url.protocol as "http:" | "https:";
  const path = `${url.pathname}${url.search}`;
  if (!dns) return { kind: "static", url: url.href, sse: sse !== undefined };
  const name = url.hostname.replace(/\.$/, "");
  if (name.startsWith("[") || /^[\d.]+$/.test(name)) return { error: "names a DNS name, not an address" };
  if (srv) {
    if (url.port !== "") return { error: "takes its ports from the SRV records: no port in the URL" };
    if (!/^_[^.]+\._(tcp|udp)\./i.test(name)) return { error: "names an SRV record, e.g. _mcp._tcp.NAME" };
    return { kind: "srv", protocol, name, path, sse: sse !== undefined };
  }
  const port = url.port === "" ? (protocol === "https:" ? 443 : 80) : Number(url.port);
  return { kind: "dns", protocol, name, port, path, sse: sse !== undefined };
}

/** The URL of the replica at `address:port` of a DNS entry: its identity, the same on every gateway. */
export function replicaUrlAt(
  entry: { protocol: "http:" | "https:"; path: string },
  address: string,
  port: number,
): string {
  const host = address.includes(":") ? `[${address}]` : address;
  return `${entry.protocol}//${host}:${port}${entry.path}`;
}
