import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { CACHEABLE_METHODS, cacheDirective, cacheKey } from "../../src/protocol/cacheable.js";
import { classify } from "../../src/protocol/classify.js";
import { accepts, acceptsJsonOrSse, isValidSessionId } from "../../src/protocol/headers.js";
import { META, parseBody, type RpcMessage } from "../../src/protocol/jsonrpc.js";
import { decodeHeaderValue, routingHeaderMismatch } from "../../src/protocol/routing-headers.js";
import { FIRST_MODERN_VERSION, isModernVersion } from "../../src/protocol/versions.js";
import { runs } from "./runs.js";

/**
 * Request classification reads what any client sends: it must never throw, must give every request the
 * era its markers say (that decides whether a session is routed to its replica), and must hand routing
 * the ids the client sent.
 */

const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];

/** Versions of every era, drafts, and garbage. */
const LEGACY_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const legacyDate = fc
  .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2026-07-27T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const modernDate = fc
  .date({ min: new Date("2026-07-28T00:00:00Z"), max: new Date("2099-12-31T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const legacyVersion = fc.oneof(fc.constantFrom(...LEGACY_VERSIONS), legacyDate);
const modernVersion = fc.oneof(fc.constant(FIRST_MODERN_VERSION), modernDate, fc.constant("DRAFT-2026-v1"));

/** Any JSON value, with prototype keys, long strings and big or odd numbers among them. */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -0, 1e308, -1e-308, 2 ** 53 + 1, 0.5),
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...PROTO_KEYS)), tie("value"), {
      maxKeys: 4,
    }),
  ),
})).value;

const id = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constantFrom(0, -1, Number.MAX_SAFE_INTEGER));
const badId = fc.oneof(
  fc.constantFrom(null, true, false, [], {}),
  jsonValue.filter((v) => typeof v === "object"),
);
const method = fc.oneof(
  fc.constantFrom("initialize", "tools/call", "tools/list", "server/discover", "subscriptions/listen", "ping"),
  fc.constantFrom(...PROTO_KEYS),
  fc.string({ maxLength: 12 }),
);

/** `params`: maybe a `_meta` with a protocol version (the modern envelope), maybe a tool name, plus noise. */
function paramsWith(version: fc.Arbitrary<string | undefined>) {
  return fc
    .tuple(
      version,
      fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
      fc.dictionary(fc.constantFrom(...PROTO_KEYS, "cursor", "uri", "arguments"), jsonValue, { maxKeys: 3 }),
    )
    .map(([v, name, rest]) => {
      const params: Record<string, unknown> = { ...rest };
      if (v !== undefined) params._meta = { [META.protocolVersion]: v, [META.clientInfo]: { name: "c" } };
      if (name !== undefined) params.name = name;
      return params;
    });
}

interface Rpc {
  jsonrpc: string;
  id?: unknown;
  method?: string;
  params?: unknown;
  result?: unknown;
}
/** A request; `params` may be left out unless `enveloped`. */
const request = (version: fc.Arbitrary<string | undefined>, enveloped = false): fc.Arbitrary<Rpc> =>
  fc.record(
    { jsonrpc: fc.constant("2.0"), id, method, params: paramsWith(version) },
    { requiredKeys: enveloped ? ["jsonrpc", "id", "method", "params"] : ["jsonrpc", "id", "method"] },
  );
const notification = (version: fc.Arbitrary<string | undefined>, enveloped = false): fc.Arbitrary<Rpc> =>
  fc.record(
    { jsonrpc: fc.constant("2.0"), method, params: paramsWith(version) },
    { requiredKeys: enveloped ? ["jsonrpc", "method", "params"] : ["jsonrpc", "method"] },
  );
const response: fc.Arbitrary<Rpc> = fc.record({
  jsonrpc: fc.constant("2.0"),
  id: fc.oneof(id, fc.constant(null)),
  result: jsonValue,
});
const anyVersion = fc.option(fc.oneof(legacyVersion, modernVersion), { nil: undefined });
const message = (version: fc.Arbitrary<string | undefined> = anyVersion) =>
  fc.oneof(request(version), notification(version), response);

/** Bodies: valid messages and batches, broken ones, arbitrary JSON and text, deep nesting, huge numbers. */
const body = fc.oneof(
  message().map((m) => JSON.stringify(m)),
  fc.array(message(), { minLength: 1, maxLength: 4 }).map((b) => JSON.stringify(b)),
  fc
    .tuple(message(), fc.constantFrom("jsonrpc", "id", "method", "params"), badId)
    .map(([m, k, v]) => JSON.stringify({ ...m, [k]: v })),
  jsonValue.map((v) => JSON.stringify(v)),
  fc.string(),
  fc.nat({ max: 20_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
  fc.nat({ max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`),
  fc.constantFrom(
    '{"jsonrpc":"2.0","id":1e400,"method":"x"}',
    '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"x"}',
    '{"jsonrpc":"2.0","id":-0,"method":"x"}',
    '{"__proto__":{"jsonrpc":"2.0","id":1,"method":"x"}}',
    '{"jsonrpc":"2.0","method":"x","params":{"__proto__":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}}',
    '{"jsonrpc":"2.0","constructor":1,"method":"toString","id":"__proto__"}',
  ),
);

type Headers = Record<string, string | string[] | undefined>;
const headerValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.constant(undefined),
);
const headers: fc.Arbitrary<Headers> = fc.dictionary(
  fc.oneof(
    fc.constantFrom("mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "accept", ...PROTO_KEYS),
    fc.string({ maxLength: 8 }),
  ),
  headerValue,
  { maxKeys: 6 },
);
const httpMethod = fc.oneof(fc.constantFrom("GET", "POST", "DELETE", "PUT", "OPTIONS"), fc.string({ maxLength: 6 }));

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function parsed(text: string): RpcMessage[] {
  const p = parseBody(text);
  return p.ok ? p.messages : [];
}

describe("property: JSON-RPC bodies", () => {
  it("parseBody never throws, and what it accepts is well-formed", () => {
    fc.assert(
      fc.property(body, (text) => {
        const p = parseBody(text);
        if (!p.ok) {
          assert.ok(p.id === null || typeof p.id === "string" || Number.isFinite(p.id), "an id to answer with");
          return;
        }
        assert.ok(p.messages.length > 0);
        for (const m of p.messages) {
          if (m.kind === "request") {
            assert.equal(typeof m.method, "string");
            assert.ok(typeof m.id === "string" || Number.isFinite(m.id));
          } else if (m.kind === "notification") {
            assert.equal(typeof m.method, "string");
            assert.equal(m.id, null);
          } else {
            assert.equal(m.method, undefined);
          }
          assert.ok(m.params === undefined || (typeof m.params === "object" && !Array.isArray(m.params)));
        }
      }),
      runs(2000),
    );
  });

  it("a request, notification or response (or a batch of them) is read as sent, whatever else it carries", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message(), fc.dictionary(fc.constantFrom(...PROTO_KEYS, "x"), jsonValue, { maxKeys: 2 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.boolean(),
        (items, asBatch) => {
          // Extra members (prototype names included) go after the message's own, which stay as sent.
          const sent = items.map(([m, extra]) => ({ ...extra, ...m }));
          const batch = asBatch || sent.length > 1;
          const p = parseBody(JSON.stringify(batch ? sent : sent[0]));
          assert.ok(p.ok, JSON.stringify(sent));
          assert.equal(p.batch, batch);
          assert.equal(p.messages.length, sent.length);
          p.messages.forEach((m, i) => {
            const s = JSON.parse(JSON.stringify(sent[i])) as Rpc;
            const kind = s.method === undefined ? "response" : s.id === undefined ? "notification" : "request";
            assert.equal(m.kind, kind);
            assert.equal(m.method, s.method);
            assert.deepEqual(m.id, s.id ?? null);
            if (kind !== "response") assert.deepEqual(m.params, s.params);
          });
        },
      ),
      runs(1000),
    );
  });

  it("a refusal answers with the request's id whenever it had a usable one", () => {
    fc.assert(
      fc.property(message(), fc.constantFrom("jsonrpc", "method", "params"), badId, (m, key, bad) => {
        fc.pre(key !== "method" || m.method !== undefined);
        const broken = { ...m, [key]: key === "params" ? 5 : key === "method" ? 7 : bad };
        const p = parseBody(JSON.stringify(broken));
        const sentId = (JSON.parse(JSON.stringify(broken)) as Rpc).id;
        if (p.ok) return; // still valid (e.g. a response without method or params)
        const usable = typeof sentId === "string" || (typeof sentId === "number" && Number.isFinite(sentId));
        assert.deepEqual(p.id, usable ? sentId : null);
      }),
      runs(1000),
    );
  });
});

describe("property: classification", () => {
  it("never throws, whatever the method, headers and body; keeps the session id as sent", () => {
    fc.assert(
      fc.property(httpMethod, headers, body, (m, h, text) => {
        const messages = parsed(text);
        const c = classify(m, h, messages);
        assert.equal(c.sessionId, single(h["mcp-session-id"]));
        assert.ok(["legacy", "modern", "unknown"].includes(c.era));
        const firstRequest = messages.find((x) => x.kind === "request");
        assert.deepEqual(c.rpcId, firstRequest?.id ?? null);
        assert.equal(c.onlyNotifications, messages.length > 0 && firstRequest === undefined);
        assert.equal(
          c.longLived,
          m === "GET" || (messages.length === 1 && messages[0]?.method === "subscriptions/listen"),
        );
      }),
      runs(2000),
    );
  });

  it("any modern marker makes a request modern: a version ≥ 2026-07-28 in the header, Mcp-Method, or a _meta version", () => {
    const marker = fc.oneof(
      fc.record({
        "mcp-protocol-version": fc.oneof(
          modernVersion,
          modernVersion.map((v) => [v]),
        ),
      }),
      fc.record({ "mcp-method": fc.string({ maxLength: 10 }) }),
    );
    fc.assert(
      fc.property(httpMethod, headers, marker, fc.array(message(), { maxLength: 3 }), (m, h, mark, msgs) => {
        const all = { ...h, ...mark };
        const messages = parsed(JSON.stringify(msgs.length === 1 ? msgs[0] : msgs));
        assert.equal(classify(m, all, messages).era, "modern", JSON.stringify(all));
      }),
      runs(1000),
    );
    fc.assert(
      fc.property(
        httpMethod,
        headers,
        fc.oneof(request(modernVersion, true), notification(modernVersion, true)),
        (m, h, msg) => {
          const { "mcp-session-id": _sid, ...rest } = h;
          assert.equal(classify(m, rest, parsed(JSON.stringify(msg))).era, "modern", "a modern envelope, no session");
        },
      ),
      runs(1000),
    );
  });

  it("a session id, an initialize, a GET or a DELETE with only legacy versions makes a request legacy", () => {
    fc.assert(
      fc.property(
        fc.option(fc.stringMatching(/^[\x21-\x7e]{1,64}$/), { nil: undefined }),
        fc.option(legacyVersion, { nil: undefined }),
        fc.constantFrom("GET", "POST", "DELETE"),
        fc.array(message(fc.constant(undefined)), { maxLength: 3 }),
        fc.boolean(),
        (sid, version, m, msgs, init) => {
          const h: Headers = { accept: "application/json, text/event-stream" };
          if (sid !== undefined) h["mcp-session-id"] = sid;
          if (version !== undefined) h["mcp-protocol-version"] = version;
          const body = init ? [{ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }] : msgs;
          const messages = parsed(JSON.stringify(body.length === 1 ? body[0] : body));
          const opener =
            sid !== undefined || m !== "POST" || (messages.length === 1 && messages[0]?.method === "initialize");
          const c = classify(m, h, messages);
          assert.equal(c.era, opener ? "legacy" : "unknown");
          assert.equal(c.initialize, m === "POST" && messages.length === 1 && messages[0]?.method === "initialize");
        },
      ),
      runs(1500),
    );
  });

  it("protocol versions compare as dates", () => {
    fc.assert(
      fc.property(fc.oneof(legacyDate, modernDate), (v) => {
        assert.equal(isModernVersion(v), Date.parse(v) >= Date.parse(FIRST_MODERN_VERSION));
      }),
      runs(500),
    );
  });
});

describe("property: MCP header values", () => {
  it("isValidSessionId accepts exactly 1–256 characters of 0x21–0x7E", () => {
    const near = fc.string({
      unit: fc.oneof(
        { weight: 20, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) },
        { weight: 1, arbitrary: fc.constantFrom(" ", "\t", "\u007f", "\u0000", "é", "\u{1F600}", "\uD800") },
      ),
      maxLength: 300,
      size: "max",
    });
    fc.assert(
      fc.property(fc.oneof(near, fc.string({ unit: "binary", maxLength: 20 })), (s) => {
        assert.equal(isValidSessionId(s), /^[\x21-\x7e]{1,256}$/.test(s), JSON.stringify(s));
      }),
      runs(3000),
    );
    for (const n of [0, 1, 255, 256, 257]) assert.equal(isValidSessionId("~".repeat(n)), n >= 1 && n <= 256);
  });

  it("Accept: a listed type is admitted whatever its case, parameters, place and spacing; q=0 refuses it", () => {
    const other = fc.constantFrom("text/html", "image/png", "application/xml", "text/plain;charset=utf-8");
    const ws = fc.constantFrom("", " ", "  ", "\t");
    fc.assert(
      fc.property(
        fc.constantFrom("application/json", "text/event-stream"),
        fc.array(other, { maxLength: 3 }),
        fc.nat(),
        ws,
        fc.constantFrom("", ";q=0.5", "; charset=utf-8", ";q=1", ";q=0", "; q=0.000", ";Q=0"),
        fc.boolean(),
        (type, others, at, pad, param, upper) => {
          const listed = `${pad}${upper ? type.toUpperCase() : type}${param}${pad}`;
          const ranges: string[] = [...others];
          ranges.splice(at % (others.length + 1), 0, listed);
          const header = ranges.join(",");
          const refused = /q\s*=\s*0(\.0*)?$/i.test(param);
          assert.equal(accepts(header, type), !refused, header);
          assert.equal(accepts(others.join(","), type), others.length === 0, "only other types");
          // The remembered answer is always the computed one.
          for (let i = 0; i < 2; i++) {
            assert.equal(
              acceptsJsonOrSse(header),
              accepts(header, "application/json") || accepts(header, "text/event-stream"),
            );
          }
        },
      ),
      runs(1500),
    );
  });
});

describe("property: modern routing headers", () => {
  const name = fc.oneof(fc.string({ maxLength: 16 }), fc.string({ unit: "binary", maxLength: 12 }));
  /** How a client sends a name: plain when it is plain printable ASCII that cannot be misread, else base64. */
  function encode(value: string, forceBase64: boolean): string {
    const plain = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !/^=\?base64\?.*\?=$/i.test(value);
    return plain && !forceBase64 ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
  }

  it("a name sent in its header form decodes to itself", () => {
    fc.assert(
      fc.property(name, fc.boolean(), (n, b64) => {
        assert.equal(decodeHeaderValue(encode(n, b64)), n);
      }),
      runs(1500),
    );
  });

  it("headers that repeat the body agree with it; changing any one of them is a mismatch", () => {
    const call = fc.record({
      method: fc.constantFrom("tools/call", "prompts/get", "resources/read", "tools/list", "ping"),
      version: modernVersion,
      name,
      b64: fc.boolean(),
    });
    fc.assert(
      fc.property(call, fc.constantFrom("version", "method", "name", "none"), name, (c, change, other) => {
        const field = c.method === "resources/read" ? "uri" : "name";
        const msg: RpcMessage = {
          kind: "request",
          id: 1,
          method: c.method,
          params: { [field]: c.name, _meta: { [META.protocolVersion]: c.version } },
        };
        const named = ["tools/call", "prompts/get", "resources/read"].includes(c.method);
        const h: Headers = { "mcp-protocol-version": c.version, "mcp-method": c.method };
        if (named) h["mcp-name"] = encode(c.name, c.b64);
        assert.equal(routingHeaderMismatch(h, msg), undefined, JSON.stringify(h));
        if (change === "version") h["mcp-protocol-version"] = `${c.version}x`;
        else if (change === "method") h["mcp-method"] = `${c.method}/x`;
        else if (change === "name" && named) {
          fc.pre(other !== c.name);
          h["mcp-name"] = encode(other, c.b64);
        } else return;
        assert.notEqual(routingHeaderMismatch(h, msg), undefined, `${change} changed: ${JSON.stringify(h)}`);
      }),
      runs(1500),
    );
  });
});

describe("property: the shared cache's keys", () => {
  /** Deep copy with object keys in another (reversed) order. */
  function reordered(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(reordered);
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).reverse()) {
      Object.defineProperty(out, k, { value: reordered((v as Record<string, unknown>)[k]), enumerable: true });
    }
    return out;
  }
  const question = fc.record({
    method: fc.constantFrom(...CACHEABLE_METHODS),
    params: fc.dictionary(
      fc.oneof(fc.constantFrom("cursor", "filter", ...PROTO_KEYS), fc.string({ maxLength: 4 })),
      jsonValue,
      {
        maxKeys: 3,
      },
    ),
    version: fc.option(fc.oneof(modernVersion, legacyVersion), { nil: undefined }),
    capabilities: fc.option(jsonValue, { nil: undefined }),
    other: fc.dictionary(fc.constantFrom(META.clientInfo, "progressToken", "traceparent"), jsonValue, { maxKeys: 2 }),
  });
  type Question = typeof question extends fc.Arbitrary<infer T> ? T : never;
  /** The message as the gateway receives it: through JSON text and parseBody. */
  function received(q: Question, order: (v: unknown) => unknown = (v) => v): RpcMessage {
    const meta: Record<string, unknown> = { ...q.other };
    if (q.version !== undefined) meta[META.protocolVersion] = q.version;
    if (q.capabilities !== undefined) meta[META.clientCapabilities] = q.capabilities;
    const text = JSON.stringify(
      order({ jsonrpc: "2.0", id: 1, method: q.method, params: { ...q.params, _meta: meta } }),
    );
    const [m] = parsed(text);
    assert.ok(m);
    return m;
  }
  const json = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  // Capabilities left out and `null` are one question: a server refuses both (the envelope requires an
  // object), or reads both as none.
  const same = (a: Question, b: Question) =>
    a.method === b.method &&
    isDeepStrictEqual(json(a.params), json(b.params)) &&
    a.version === b.version &&
    isDeepStrictEqual(json(a.capabilities) ?? null, json(b.capabilities) ?? null);

  it("two requests share an entry exactly when they ask the same question (key order and client info aside)", () => {
    const pair = question.chain((a) =>
      fc
        .oneof(
          fc.constant(a),
          question.map((b) => ({ ...a, other: b.other })),
          question.map((b) => ({ ...a, params: b.params })),
          question.map((b) => ({ ...a, capabilities: b.capabilities })),
          question.map((b) => ({ ...a, version: b.version })),
          question,
        )
        .map((b) => [a, b] as const),
    );
    fc.assert(
      fc.property(pair, fc.boolean(), ([a, b], shuffle) => {
        const ka = cacheKey(received(a));
        const kb = cacheKey(received(b, shuffle ? reordered : undefined));
        assert.equal(ka === kb, same(a, b), `${ka}\n${kb}`);
      }),
      runs(2000),
    );
  });

  it("an answer is kept only with a positive finite ttlMs and a known scope", () => {
    fc.assert(
      fc.property(
        jsonValue,
        fc.oneof(fc.double(), jsonValue),
        fc.oneof(fc.constantFrom("public", "private", "Public"), jsonValue),
        (base, ttl, scope) => {
          const result =
            base !== null && typeof base === "object" && !Array.isArray(base)
              ? { ...base, ttlMs: ttl, cacheScope: scope }
              : base;
          const d = cacheDirective(result);
          const keep =
            result === base
              ? false
              : typeof ttl === "number" &&
                Number.isFinite(ttl) &&
                ttl > 0 &&
                (scope === "public" || scope === "private");
          assert.deepEqual(d, keep ? { ttlMs: ttl, scope } : undefined);
        },
      ),
      runs(1000),
    );
  });
});
