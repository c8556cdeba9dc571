/** A Redis server's address. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * What a Redis deployment looks like to a client: one server (`redis://`), a primary found through
 * Sentinel (`redis+sentinel://S1,S2,S3/NAME`), or a Cluster (its nodes).
 */
export type Topology =
  | { kind: "single"; url: string }
  | {
      kind: "sentinel";
      /** The name the sentinels monitor the primary under. */
      name: string;
      sentinels: RedisNode[];
      /** TLS to the data nodes and the sentinels. */
      tls: boolean;
      database: number | undefined;
      /** The data nodes' credentials (from the URL; options may add them). */
      username: string | undefined;
      password: string | undefined;
    }
  | { kind: "cluster"; nodes: RedisNode[]; tls: boolean; username: string | undefined; password: string | undefined };

const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/@]+)\/([^/]+)(?:\/(\d+))?$/;

/** `HOST:PORT` (or `[V6]:PORT`); the port defaults to `defaultPort`. */
export function parseNode(text: string, defaultPort: number): RedisNode {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = Number(m?.[3] ?? defaultPort);
  if (!m || port < 1 || port > 65535) throw new Error(`not HOST:PORT: ${text}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

function credentials(userinfo: string | undefined): { username: string | undefined; password: string | undefined } {
  if (userinfo === undefined || userinfo === "") return { username: undefined, password: undefined };
  const colon = userinfo.indexOf(":");
  if (colon < 0) return { username: decodeURIComponent(userinfo), password: undefined };
  return {
    username: colon === 0 ? undefined : decodeURIComponent(userinfo.slice(0, colon)),
    password: decodeURIComponent(userinfo.slice(colon + 1)),
  };
}

/** Whether `url` names Sentinel (`redis+sentinel://`, `rediss+sentinel://`). */
export function isSentinelUrl(url: string): boolean {
  return /^rediss?\+sentinel:\/\//.test(url);
}

/**
 * `redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/NAME[/DB]` (`rediss+sentinel://` for TLS):
 * the sentinels to ask, the name of the primary they watch, and the credentials of the data nodes.
 */
export function parseSentinelUrl(url: string): Extract<Topology, { kind: "sentinel" }> {
  const m = SENTINEL_URL.exec(url);
  if (!m) throw new Error("a Sentinel URL is redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/NAME[/DB]");
  return {
    kind: "sentinel",
    name: decodeURIComponent(m[4] as string),
    sentinels: (m[3] as string).split(",").map((n) => parseNode(n, 26379)),
    tls: m[1] === "rediss",
    database: m[5] === undefined ? undefined : Number(m[5]),
    ...credentials(m[2]),
  };
}

/** A Cluster from some of its nodes (`redis://HOST:PORT`, `rediss://…` or `HOST:PORT`): the rest is discovered. */
export function parseClusterNodes(nodes: string[]): Extract<Topology, { kind: "cluster" }> {
  if (nodes.length === 0) throw new Error("a Cluster needs at least one node");
  const schemes = new Set(nodes.map((n) => /^(rediss?):\/\//.exec(n)?.[1] ?? "redis"));
  if (schemes.size > 1) throw new Error("a Cluster's nodes are all redis:// or all rediss://");
  const first = /^rediss?:\/\/(?:([^@/]*)@)?/.exec(nodes[0] as string)?.[1];
  return {
    kind: "cluster",
    nodes: nodes.map((n) => parseNode(n.replace(/^rediss?:\/\/(?:[^@/]*@)?/, "").replace(/\/.*$/, ""), 6379)),
    tls: schemes.has("rediss"),
    ...credentials(first),
  };
}

/** What is wrong with a Sentinel URL, or undefined. */
export function sentinelUrlProblem(url: string): string | undefined {
  try {
    parseSentinelUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** What is wrong with a Cluster's node list, or undefined. */
export function clusterNodesProblem(nodes: string[]): string | undefined {
  try {
    parseClusterNodes(nodes);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
