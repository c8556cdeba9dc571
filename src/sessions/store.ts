/**
 * What the gateway remembers of one stateful session. Never holds the client's raw session id (stores key
 * records by its hash); a federation member's session id, the gateway's own with that member, is kept.
 */
export interface SessionRecord {
  /** Route name (`/NAME/mcp`). */
  route: string;
  /** Id of the upstream replica that created the session. */
  replica: string;
  /** Who created the session; another principal presenting the id gets 404. */
  principal: string;
  /** `legacy`: Streamable HTTP with `Mcp-Session-Id`; `sse`: an HTTP+SSE stream. */
  era: "legacy" | "sse";
  /** HTTP+SSE: the path and query the replica announced for POSTing the session's messages. */
  endpoint?: string;
  createdAt: number;
  lastSeenAt: number;
  /**
   * A virtual server's session (federation): what its client said of itself in `initialize` and the
   * version agreed, for opening member sessions on its behalf (`replica` is then empty).
   */
  hello?: { protocolVersion: string; capabilities: Record<string, unknown>; clientInfo: Record<string, unknown> };
  /** A virtual server's session with one member (route `VIRTUAL/MEMBER`): the member's own session id and version. */
  upstreamSession?: string;
  protocolVersion?: string;
}

/** A session as an operator sees it (`SessionStore.list`): named by a hash of its id, never the id. */
export interface ListedSession {
  /** `sha256(session id)`, base64url: the name a shared store's key holds. */
  name: string;
  record: SessionRecord;
}

/** What `revokeListed` did: the revocation's name (`revocationKey(route, id)`), when the store knew it. */
export interface RevokedSession {
  revocation: string | undefined;
  /** The replica that held it (for the log). */
  replica: string;
}

/**
 * Session → replica, with a sliding idle TTL. One small interface, implemented by the memory store
 * (this package) and shared stores (Redis); one contract suite tests them all.
 */
export interface SessionStore {
  /**
   * Where a lookup that `peek` cannot answer goes, as OpenTelemetry names the database (`redis`): such a
   * lookup is a span of its own when traced. Undefined for a store in this process.
   */
  readonly dbSystem?: string | undefined;
  /** The record, renewing its idle TTL; undefined if unknown or expired. */
  get(route: string, sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * The record when this process holds it fresh, without I/O (renewing its idle TTL as `get` does);
   * undefined: ask `get`. The hot path of a known session costs no promise.
   */
  peek(route: string, sessionId: string): SessionRecord | undefined;
  /** Whether the session is known (and not expired), without renewing its idle TTL. */
  has(route: string, sessionId: string): Promise<boolean>;
  /** Remember a new session unless the id is already known (set-if-absent); the store stamps `lastSeenAt`. True if stored. */
  learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean>;
  /** Forget a session (DELETE, upstream 404, owner gone). */
  forget(route: string, sessionId: string): Promise<void>;
  /**
   * Revoke a signed session id until `until` (epoch ms, when the token expires anyway): from now on every
   * gateway sharing the store refuses it. Resolves once the revocation is stored and announced.
   */
  revoke(route: string, sessionId: string, until: number): Promise<void>;
  /** The same, by the revocation's name (`revocationKey(route, id)`): for an admin who holds only that. */
  revokeKey(key: string, until: number): Promise<void>;
  /** Whether a signed session id is revoked: answered from memory, never a round trip. */
  isRevoked(route: string, sessionId: string): boolean;
  /** Whether the store answers now (a shared store's server is reachable): what `/readyz` reports. */
  reachable(): Promise<boolean>;
  /** Number of sessions held, where the store can tell cheaply. */
  size(): Promise<number>;
  /**
   * The sessions held (of one route, or all), most recently used first, at most `limit` (`truncated`
   * when there were more). A scan: for operators, never the hot path.
   */
  list(route: string | undefined, limit: number): Promise<{ sessions: ListedSession[]; truncated: boolean }>;
  /**
   * Revoke a listed session by its name: every gateway forgets it, and its id is refused until `until`.
   * Undefined when the store holds no such session.
   */
  revokeListed(route: string, name: string, until: number): Promise<RevokedSession | undefined>;
  close(): Promise<void>;
}
