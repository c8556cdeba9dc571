import type { ExchangeConfig } from "../auth/route-auth.js";
import type { RequestTrace } from "../observability/request-trace.js";
import { H } from "../protocol/headers.js";
import { isModernVersion, LATEST_LEGACY_VERSION } from "../protocol/versions.js";
import type { SessionRecord, SessionStore } from "../sessions/store.js";
import type { Replica } from "../upstream/replica.js";
import { IdleExpiry } from "./idle-expiry.js";
import type { Json } from "./json.js";
import type { Cancel } from "./member-exchange.js";
import { gatewayId, type Hello, MemberError, type MemberLink, type Message } from "./member-link.js";
import { SseMemberSession } from "./sse-member.js";

/** Who a virtual server asks a member for: the principal, what the client said of itself, its session. */
export interface Caller {
  principal: string;
  hello: Hello;
  /** The virtual session (a legacy client): member sessions are kept under it, in the session store. */
  session: string | undefined;
  /** A member's own credential for this caller (token exchange); undefined: none (no token, or not asked). */
  authorize?: ((exchange: ExchangeConfig) => Promise<string | undefined>) | undefined;
}

/** A member's answer to `initialize` or `server/discover`: who it is. */
export interface MemberInfo {
  era: "legacy" | "modern" | "sse";
  capabilities: Record<string, unknown>;
  instructions: unknown;
  serverInfo: unknown;
}

/** A member's answer, and (a JSON one) its text as it came. */
export interface Answered {
  answer: Message | undefined;
  text: string | undefined;
}

export interface RequestOptions {
  /** Given a way to stop the request (a cancellation, the client leaving). */
  cancel?: Cancel;
  /** A `tools/call`'s tool input schema: where a modern member's `Mcp-Param-*` headers come from. */
  inputSchema?: unknown;
  /** Messages the member sends before its answer (progress, logs, its own requests). */
  onMessage?: (m: Message) => void;
  /** The member answers with a stream (its messages, then the answer, will follow on it). */
  onStream?: () => void;
  /** The client's request's trace: a CLIENT span per member call. */
  trace?: RequestTrace | undefined;
}

/** A member session as this process holds it (for callers without a virtual session: modern clients, the catalog). */
interface Held {
  record: SessionRecord;
}

const resultOf = (m: Message | undefined): Json | undefined =>
  m && m.result !== null && typeof m.result === "object" ? (m.result as Json) : undefined;

/**
 * The members of one virtual server, each in its own era: a modern member gets each request on its own
 * (any replica); a legacy member gets it in a session that the gateway opens for the caller when first
 * needed, keeps in the session store under the virtual session (so that any gateway replica continues it),
 * and opens again behind the caller's back when the member lost it (404, or its replica gone).
 */
export class Members {
  private readonly eras = new Map<string, "legacy" | "modern" | "sse">();
  /** Sessions with HTTP+SSE members: their streams, held by this process, by member and caller. */
  private readonly streams = new Map<string, Promise<SseMemberSession>>();
  private readonly held = new Map<string, Held>();
  private readonly idle: IdleExpiry;

  constructor(
    readonly virtual: string,
    readonly links: ReadonlyMap<string, MemberLink>,
    private readonly store: SessionStore,
    /** `sessions.idleTtl`: a virtual session idle that long is gone, and its member sessions are ended. */
    idleTtlMs: number,
  ) {
    this.idle = new IdleExpiry(store, virtual, idleTtlMs, (member, session, record) =>
      this.endOne(member, session, record),
    );
  }

  /** The headers that carry a member's own credential for the caller (`upstreamAuth: { exchange }`). */
  private async credentials(member: string, caller: Caller): Promise<string[]> {
    const exchange = this.link(member).exchange;
    const authorization = exchange && caller.authorize ? await caller.authorize(exchange) : undefined;
    return authorization === undefined ? [] : ["authorization", authorization];
  }

  /** Whether the caller's virtual session is still known (a modern caller has none, and always is). */
  async alive(caller: Caller): Promise<boolean> {
    return caller.session === undefined || (await this.store.has(this.virtual, caller.session).catch(() => true));
  }

  get names(): string[] {
    return [...this.links.keys()];
  }

  private link(member: string): MemberLink {
    const link = this.links.get(member);
    if (!link) throw new Error(`not a member: ${member}`);
    return link;
  }

  private pick(member: string): Replica {
    const replica = this.link(member).pick();
    if (!replica) throw new MemberError(member, "unavailable", "no healthy replica");
    return replica;
  }

  /**
   * Who the member is, and in which era it speaks: `server/discover` first (a member that answers it is
   * modern, and served statelessly), else a legacy `initialize` (its session ended at once).
   */
  async info(member: string, hello: Hello, creds: string[] = []): Promise<MemberInfo> {
    const link = this.link(member);
    if (link.transport === "sse") {
      const session = await SseMemberSession.open(link, this.pick(member), hello, creds);
      session.close();
      this.eras.set(member, "sse");
      const { capabilities, instructions, serverInfo } = session.result;
      return { era: "sse", capabilities: (capabilities as Json) ?? {}, instructions, serverInfo };
    }
    const discover = link.modern({ jsonrpc: "2.0", id: gatewayId(), method: "server/discover", params: {} }, hello);
    const found = await link
      .post(this.pick(member), discover.body, discover.headers.concat(creds))
      .catch((err: unknown) => {
        if (err instanceof MemberError && err.status !== undefined && err.status >= 400 && err.status < 500)
          return undefined;
        throw err;
      });
    const discovered = resultOf(found?.answer);
    if (discovered) {
      this.eras.set(member, "modern");
      const meta = discovered._meta as Json | undefined;
      return {
        era: "modern",
        capabilities: (discovered.capabilities as Json) ?? {},
        instructions: discovered.instructions,
        serverInfo: meta?.["io.modelcontextprotocol/serverInfo"],
      };
    }
    const replica = this.pick(member);
    const { record, result } = await this.open(member, replica, hello, "", creds);
    this.eras.set(member, "legacy");
    if (record.upstreamSession !== undefined) {
      void link.end(replica, record.upstreamSession, record.protocolVersion ?? LATEST_LEGACY_VERSION);
    }
    return {
      era: "legacy",
      capabilities: (result.capabilities as Json) ?? {},
      instructions: result.instructions,
      serverInfo: result.serverInfo,
    };
  }

  /** The member's era if it is known already (nothing to wait for). */
  knownEra(member: string): "legacy" | "modern" | "sse" | undefined {
    return this.eras.get(member);
  }

  /** The era the member speaks (asked once, with the caller's credentials if it needs any). */
  async eraOf(member: string, caller: Caller): Promise<"legacy" | "modern" | "sse"> {
    return this.eras.get(member) ?? this.era(member, caller.hello, await this.credentials(member, caller));
  }

  private async era(member: string, hello: Hello, creds: string[]): Promise<"legacy" | "modern" | "sse"> {
    if (this.link(member).transport === "sse") return "sse";
    return this.eras.get(member) ?? (await this.info(member, hello, creds)).era;
  }

  /** Open a legacy session with the member on `replica`: `initialize`, then `notifications/initialized`. */
  private async open(
    member: string,
    replica: Replica,
    hello: Hello,
    principal: string,
    creds: string[],
  ): Promise<{ record: SessionRecord; result: Json }> {
    const link = this.link(member);
    const createdAt = Date.now();
    const version = isModernVersion(hello.protocolVersion) ? LATEST_LEGACY_VERSION : hello.protocolVersion;
    const init = await link.post(
      replica,
      {
        jsonrpc: "2.0",
        id: gatewayId(),
        method: "initialize",
        params: { protocolVersion: version, capabilities: hello.capabilities, clientInfo: hello.clientInfo },
      },
      creds,
    );
    const result = resultOf(init.answer);
    if (!result) throw new MemberError(member, "unavailable", "refused initialize");
    const agreed = typeof result.protocolVersion === "string" ? result.protocolVersion : version;
    const record: SessionRecord = {
      route: `${this.virtual}/${member}`,
      replica: replica.id,
      principal,
      era: "legacy",
      createdAt,
      lastSeenAt: createdAt,
      protocolVersion: agreed,
      ...(init.sessionId === undefined ? {} : { upstreamSession: init.sessionId }),
    };
    await link.post(
      replica,
      { jsonrpc: "2.0", method: "notifications/initialized" },
      sessionHeaders(record).concat(creds),
    );
    return { record, result };
  }

  /** The caller's session with a legacy member: the one kept (store or this process), else a new one. */
  private async session(
    member: string,
    caller: Caller,
    creds: string[],
    stale?: SessionRecord,
  ): Promise<SessionRecord> {
    const route = `${this.virtual}/${member}`;
    const key = `${member}\u0000${caller.principal}`;
    if (stale) {
      if (caller.session === undefined) this.held.delete(key);
      else await this.store.forget(route, caller.session);
    }
    const kept = await this.kept(member, caller);
    if (kept) return kept;
    const { record } = await this.open(member, this.pick(member), caller.hello, caller.principal, creds);
    if (caller.session === undefined) {
      this.held.set(key, { record });
      return record;
    }
    if (await this.store.learn(route, caller.session, record)) return record;
    // Another gateway replica opened one for this virtual session at the same time: theirs is kept.
    const theirs = await this.store.get(route, caller.session);
    const replica = this.link(member).holder(record.replica, record.createdAt);
    if (replica && record.upstreamSession !== undefined) {
      void this.link(member).end(replica, record.upstreamSession, record.protocolVersion ?? LATEST_LEGACY_VERSION);
    }
    return theirs ?? record;
  }

  /**
   * Send a request (or notification) to a member in its era and return its answer. A legacy member's
   * session lost behind the gateway (404, its replica gone) is opened again and the request sent once
   * more; the caller never sees it.
   */
  request(member: string, message: Message, caller: Caller, options: RequestOptions = {}): Promise<Answered> {
    const link = this.link(member);
    // The hot path: a modern member known as such, no credential to obtain — nothing to wait for first.
    if (this.eras.get(member) === "modern" && !(link.exchange && caller.authorize)) {
      const modern = link.modern(message, caller.hello, options.inputSchema);
      return link.post(this.pick(member), modern.body, modern.headers, options);
    }
    return this.requestInEra(member, message, caller, options);
  }

  private async requestInEra(
    member: string,
    message: Message,
    caller: Caller,
    options: RequestOptions,
  ): Promise<Answered> {
    const link = this.link(member);
    const creds = await this.credentials(member, caller);
    const era = await this.era(member, caller.hello, creds);
    if (era === "sse") return this.viaStream(member, message, caller, creds, options);
    if (era === "modern") {
      const modern = link.modern(message, caller.hello, options.inputSchema);
      return link.post(this.pick(member), modern.body, modern.headers.concat(creds), options);
    }
    return this.inSession(member, caller, creds, (replica, headers) =>
      link.post(replica, message, headers, { ...options, session: true }).catch(async (err: unknown) => {
        if (options.cancel?.aborted && message.id !== undefined) {
          // A legacy member learns of a cancellation by notification (a modern one by the stream closing).
          const cancel = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: message.id } };
          await link.post(replica, cancel, headers, { session: true }).catch(() => undefined);
        }
        throw err;
      }),
    );
  }

  /**
   * `send` in the caller's session with a legacy member (its headers given), the session opened when
   * first needed, and opened again — `send` tried once more — when the member lost it (404, its replica
   * gone): the caller never sees that.
   */
  private async inSession<T>(
    member: string,
    caller: Caller,
    creds: string[],
    send: (replica: Replica, headers: string[]) => Promise<T>,
  ): Promise<T> {
    const link = this.link(member);
    let record = await this.session(member, caller, creds);
    for (let attempt = 0; ; attempt++) {
      if (caller.session !== undefined) this.idle.touch(member, caller.session, record);
      const replica = link.holder(record.replica, record.createdAt);
      try {
        if (!replica) throw new MemberError(member, "session-gone", "its replica is gone");
        return await send(replica, sessionHeaders(record).concat(creds));
      } catch (err) {
        if (!(err instanceof MemberError && err.kind === "session-gone") || attempt > 0) throw err;
        record = await this.session(member, caller, creds, record);
      }
    }
  }

  /**
   * Follow a member's notifications for the caller until the stream ends: a legacy member's GET stream
   * in the caller's session (opened if need be), a modern member's `subscriptions/listen` with `filter`.
   * False when the member offers no such stream.
   */
  async listen(
    member: string,
    caller: Caller,
    filter: Record<string, boolean>,
    onMessage: (m: Message) => void,
    signal: AbortSignal,
  ): Promise<boolean> {
    const link = this.link(member);
    const creds = await this.credentials(member, caller);
    const era = await this.era(member, caller.hello, creds);
    if (era === "sse") {
      // The same stream carries answers and the rest: what answers nothing comes here while the client listens.
      const session = await this.stream(member, caller, creds);
      session.listener = onMessage;
      const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      await Promise.race([session.ended, aborted]);
      if (session.listener === onMessage) session.listener = undefined;
      return true;
    }
    if (era === "modern") {
      const listen = link.modern(
        { jsonrpc: "2.0", id: gatewayId(), method: "subscriptions/listen", params: { notifications: filter } },
        caller.hello,
      );
      const cancel: Cancel = {};
      const stop = () => cancel.abort?.("the client left");
      signal.addEventListener("abort", stop, { once: true });
      const posted = link.post(this.pick(member), listen.body, listen.headers.concat(creds), { onMessage, cancel });
      if (signal.aborted) stop();
      await posted
        .finally(() => signal.removeEventListener("abort", stop))
        .catch((err: unknown) => {
          if (!signal.aborted && !(err instanceof MemberError && err.kind === "ended")) throw err;
        });
      return true;
    }
    return this.inSession(member, caller, creds, (replica, headers) =>
      link.stream(replica, headers, onMessage, signal),
    );
  }

  /** The key of a caller's session with an HTTP+SSE member. */
  private streamKey(member: string, caller: Caller): string {
    return `${member}\u0000${caller.session ?? `principal\u0000${caller.principal}`}`;
  }

  /** The caller's session with an HTTP+SSE member: the stream this process holds, else a new one. */
  private async stream(
    member: string,
    caller: Caller,
    creds: string[],
    stale?: SseMemberSession,
  ): Promise<SseMemberSession> {
    const key = this.streamKey(member, caller);
    const held = this.streams.get(key);
    const current = held && (await held.catch(() => undefined));
    if (held && current && current !== stale && !current.closed) return current;
    if (held && (!current || current === stale || current.closed) && this.streams.get(key) === held)
      this.streams.delete(key);
    let opening = this.streams.get(key);
    if (!opening) {
      opening = SseMemberSession.open(this.link(member), this.pick(member), caller.hello, creds);
      this.streams.set(key, opening);
      opening.catch(() => {
        if (this.streams.get(key) === opening) this.streams.delete(key);
      });
    }
    const session = await opening;
    if (caller.session !== undefined) this.idle.touch(member, caller.session);
    return session;
  }

  /** A message to an HTTP+SSE member, in the caller's session (opened again, once, if its stream ended). */
  private async viaStream(
    member: string,
    message: Message,
    caller: Caller,
    creds: string[],
    options: RequestOptions,
  ): Promise<Answered> {
    let stale: SseMemberSession | undefined;
    for (let attempt = 0; ; attempt++) {
      const session = await this.stream(member, caller, creds, stale);
      try {
        if (message.id === undefined || message.method === undefined) {
          await session.notify(message);
          return { answer: undefined, text: undefined };
        }
        const answer = await session.request(message, {
          ...(options.onMessage ? { onMessage: options.onMessage } : {}),
          ...(options.cancel ? { cancel: options.cancel } : {}),
        });
        return { answer, text: undefined };
      } catch (err) {
        if (!(err instanceof MemberError && err.kind === "session-gone") || attempt > 0 || options.cancel?.aborted)
          throw err;
        stale = session;
      }
    }
  }

  /** A notification to every legacy member the caller holds a session with (none is opened for it). */
  async notifyHeld(message: Message, caller: Caller): Promise<void> {
    await Promise.all(
      this.names.map(async (member) => {
        if (this.eras.get(member) === "sse") {
          const held = await this.streams.get(this.streamKey(member, caller))?.catch(() => undefined);
          if (held && !held.closed) await held.notify(message).catch(() => undefined);
          return;
        }
        if (this.eras.get(member) !== "legacy") return;
        const record = await this.kept(member, caller).catch(() => undefined);
        const replica = record && this.link(member).holder(record.replica, record.createdAt);
        if (!replica || !record) return;
        const creds = await this.credentials(member, caller).catch(() => []);
        await this.link(member)
          .post(replica, message, sessionHeaders(record).concat(creds), { session: true })
          .catch(() => undefined);
      }),
    );
  }

  /** The caller's session with a legacy member, if one is kept. */
  private async kept(member: string, caller: Caller): Promise<SessionRecord | undefined> {
    const route = `${this.virtual}/${member}`;
    const record =
      caller.session === undefined
        ? this.held.get(`${member}\u0000${caller.principal}`)?.record
        : (this.store.peek(route, caller.session) ?? (await this.store.get(route, caller.session)));
    return record?.principal === caller.principal ? record : undefined;
  }

  /** The legacy sessions a virtual session holds: ended with the member (DELETE) and forgotten. */
  async end(caller: Caller): Promise<void> {
    const session = caller.session;
    if (session === undefined) return;
    await Promise.all(
      this.names.map((member) => {
        this.idle.forget(member, session);
        return this.endOne(member, session);
      }),
    );
  }

  /** One member session of a virtual session: forgotten, and ended with its member. */
  private async endOne(member: string, session: string, known?: SessionRecord): Promise<void> {
    const key = `${member}\u0000${session}`;
    const stream = this.streams.get(key);
    if (stream) {
      this.streams.delete(key);
      (await stream.catch(() => undefined))?.close();
      return;
    }
    const route = `${this.virtual}/${member}`;
    const record = (await this.store.get(route, session).catch(() => undefined)) ?? known;
    if (!record) return;
    await this.store.forget(route, session).catch(() => {});
    const replica = this.link(member).holder(record.replica, record.createdAt);
    if (replica && record.upstreamSession !== undefined) {
      await this.link(member).end(replica, record.upstreamSession, record.protocolVersion ?? LATEST_LEGACY_VERSION);
    }
  }

  /**
   * Sessions this process holds for callers without a virtual session (modern clients, the catalog):
   * those of `principal`, or all of them (shutdown), ended with their members.
   */
  async release(principal?: string): Promise<void> {
    if (principal === undefined) this.idle.stop();
    for (const [key, stream] of this.streams) {
      if (principal !== undefined && !key.endsWith(`principal\u0000${principal}`)) continue;
      this.streams.delete(key);
      void stream.then((s) => s.close()).catch(() => {});
    }
    const ending: Array<Promise<void>> = [];
    for (const [key, { record }] of this.held) {
      const sep = key.indexOf("\u0000");
      if (principal !== undefined && key.slice(sep + 1) !== principal) continue;
      this.held.delete(key);
      const member = key.slice(0, sep);
      const replica = this.links.get(member)?.holder(record.replica, record.createdAt);
      if (replica && record.upstreamSession !== undefined) {
        ending.push(
          this.link(member).end(replica, record.upstreamSession, record.protocolVersion ?? LATEST_LEGACY_VERSION),
        );
      }
    }
    await Promise.all(ending);
  }
}

/** The headers of a request in a legacy member session. */
function sessionHeaders(record: SessionRecord): string[] {
  const headers = [H.protocolVersion, record.protocolVersion ?? LATEST_LEGACY_VERSION];
  if (record.upstreamSession !== undefined) headers.push(H.sessionId, record.upstreamSession);
  return headers;
}
