import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  clientResponseHeaders,
  endToEndHeaders,
  injection,
  upstreamRequestHeaders,
} from "../../src/security/header-policy.js";
import { runs } from "./runs.js";

/**
 * Which headers cross the gateway. Whatever a client or an upstream sends: hop-by-hop headers and those
 * its `Connection` names stop here; everything end-to-end passes with its values; on a tenant's server
 * the client's gateway credential never travels and the server's configured headers cannot be forged.
 */

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const SET_BY_GATEWAY = ["host", "content-length", "expect", "accept-encoding", "forwarded"];
const FORWARDED = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];
const CREDENTIALS = ["authorization", "x-api-key", "cookie"];
const MCP = ["mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "mcp-param-q", "last-event-id"];
const OTHER = ["accept", "content-type", "x-upstream-token", "x-tenant", "user-agent", "traceparent", "x-custom"];
const KNOWN = [...HOP_BY_HOP, ...SET_BY_GATEWAY, ...FORWARDED, ...CREDENTIALS, ...MCP, ...OTHER];

const TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";
/** A header name as Node gives it (lower case), known or not. */
const headerName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 12 }) },
);
/** The same name in any letter case. */
function anyCase(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""));
}
/** A field value (visible ASCII and spaces, as Node accepts them); marked so its origin can be traced. */
const value = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 16,
});

/** A Connection header: tokens naming headers (any case, spaces, empty items), as a string or repeated. */
const connection = fc
  .array(fc.tuple(headerName.chain(anyCase), fc.constantFrom("", " ", "  ")), { maxLength: 5 })
  .chain((tokens) =>
    fc.constantFrom(",", ", ", " ,").map((sep) => tokens.map(([t, pad]) => `${pad}${t}${pad}`).join(sep)),
  );

/** Incoming headers as Node parses them: lower-case names; a value, or several (repeated set-cookie-like ones). */
const incoming: fc.Arbitrary<IncomingHttpHeaders> = fc
  .tuple(
    fc.dictionary(headerName, fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 })), { maxKeys: 14 }),
    fc.option(connection, { nil: undefined }),
  )
  .map(([headers, conn]) => {
    const out: IncomingHttpHeaders = {};
    let n = 0;
    // Each value is unique, so that where it ends up tells where it came from.
    const mark = (v: string) => `${v}#c${n++}`;
    for (const [name, v] of Object.entries(headers)) {
      if (name === "connection") continue;
      (out as Record<string, string | string[]>)[name] = Array.isArray(v) ? v.map(mark) : mark(v);
    }
    if (conn !== undefined) out.connection = conn;
    return out;
  });

/** A tenant server's configured upstream headers (names in whatever case its configuration used). */
const injected = fc
  .uniqueArray(
    fc.constantFrom("x-upstream-token", "x-tenant", "authorization", "x-api-key", "traceparent", "x-custom"),
    {
      maxLength: 4,
    },
  )
  .chain((names) =>
    fc.tuple(
      ...names.map((n) =>
        fc.tuple(
          anyCase(n),
          value.map((v) => `${v}#inj`),
        ),
      ),
    ),
  )
  .map((pairs) => Object.fromEntries(pairs) as Record<string, string>);

const forwardedFor = fc.record(
  {
    clientAddress: fc.option(fc.ipV4(), { nil: undefined }),
    proto: fc.constantFrom("http" as const, "https" as const),
    trustProxy: fc.boolean(),
  },
  { noNullPrototype: true },
);

/** The flat list as pairs, names lower-cased. */
function pairs(flat: readonly string[]): [string, string][] {
  assert.equal(flat.length % 2, 0);
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([(flat[i] as string).toLowerCase(), flat[i + 1] as string]);
  return out;
}

function connectionNamed(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Set<string> {
  const c = headers.connection;
  const joined = c === undefined ? "" : Array.isArray(c) ? c.join(",") : c;
  return new Set(joined.split(",").map((t) => t.trim().toLowerCase()));
}

function values(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

describe("property: header policy, client → upstream", () => {
  it("no hop-by-hop header, none named by Connection, none the gateway sets; X-Forwarded-* once each", () => {
    fc.assert(
      fc.property(incoming, forwardedFor, fc.option(injected, { nil: undefined }), (h, fwd, inj) => {
        const out = pairs(
          upstreamRequestHeaders(h, { ...fwd, inject: inj && { ...injection(inj), credentials: true } }),
        );
        const named = connectionNamed(h);
        const injectedNames = new Set(Object.keys(inj ?? {}).map((n) => n.toLowerCase()));
        for (const [name] of out) {
          assert.ok(!HOP_BY_HOP.includes(name), `${name} is hop-by-hop`);
          assert.ok(!SET_BY_GATEWAY.includes(name), `${name} is the gateway's`);
          if (named.has(name))
            assert.ok(injectedNames.has(name) || FORWARDED.includes(name), `${name} named by Connection`);
        }
        for (const name of FORWARDED.slice(0, 2)) assert.equal(out.filter(([n]) => n === name).length, 1, name);
        assert.ok(out.filter(([n]) => n === "x-forwarded-host").length <= 1);
      }),
      runs(2000),
    );
  });

  it("every other header passes with all its values, in order", () => {
    fc.assert(
      fc.property(incoming, forwardedFor, (h, fwd) => {
        const out = pairs(upstreamRequestHeaders(h, fwd));
        const named = connectionNamed(h);
        for (const [name, v] of Object.entries(h)) {
          if (
            HOP_BY_HOP.includes(name) ||
            SET_BY_GATEWAY.includes(name) ||
            FORWARDED.includes(name) ||
            named.has(name)
          ) {
            continue;
          }
          assert.deepEqual(
            out.filter(([n]) => n === name).map(([, x]) => x),
            values(v),
            name,
          );
        }
      }),
      runs(2000),
    );
  });

  it("on a tenant's server: no client credential travels, and no configured header can be forged, in any case", () => {
    fc.assert(
      fc.property(incoming, forwardedFor, injected, (h, fwd, inj) => {
        const out = pairs(upstreamRequestHeaders(h, { ...fwd, inject: { ...injection(inj), credentials: true } }));
        for (const name of CREDENTIALS) {
          for (const v of values(h[name])) {
            assert.ok(!out.some(([, x]) => x === v), `the client's ${name} travelled`);
          }
        }
        for (const [name, v] of Object.entries(inj)) {
          const sent = out.filter(([n]) => n === name.toLowerCase()).map(([, x]) => x);
          assert.deepEqual(sent, [v], `${name}: only the configured value`);
        }
        // Cookies and credentials the configuration does not set are not sent at all.
        for (const name of CREDENTIALS) {
          if (!Object.keys(inj).some((n) => n.toLowerCase() === name)) {
            assert.ok(!out.some(([n]) => n === name), `${name} sent`);
          }
        }
      }),
      runs(2000),
    );
  });

  it("X-Forwarded-For names the client last; earlier hops only from a trusted proxy", () => {
    fc.assert(
      fc.property(incoming, forwardedFor, (h, fwd) => {
        const out = pairs(upstreamRequestHeaders(h, fwd));
        const xff = out.find(([n]) => n === "x-forwarded-for")?.[1];
        const client = fwd.clientAddress ?? "unknown";
        const prior = h["x-forwarded-for"];
        assert.equal(xff, fwd.trustProxy && prior ? `${String(prior)}, ${client}` : client);
        const proto = out.find(([n]) => n === "x-forwarded-proto")?.[1];
        if (!fwd.trustProxy) assert.equal(proto, fwd.proto);
      }),
      runs(1000),
    );
  });
});

describe("property: header policy, upstream → client", () => {
  /** What replicas answer, sometimes with the name a `switchyard/ha` node gives itself (internal). */
  const responseHeaders = fc
    .tuple(incoming as fc.Arbitrary<Record<string, string | string[] | undefined>>, fc.boolean())
    .map(([h, ha]) => (ha ? { ...h, "x-switchyard-ha-node": "node-1" } : h));

  it("end-to-end headers pass with their values; hop-by-hop ones and those Connection names never do", () => {
    fc.assert(
      fc.property(responseHeaders, fc.uniqueArray(headerName, { maxLength: 3 }), (h, alsoList) => {
        const also = new Set(alsoList);
        const named = connectionNamed(h);
        for (const [out, dropped] of [
          [pairs(endToEndHeaders(h, also)), also],
          [pairs(clientResponseHeaders(h)), new Set(["x-switchyard-ha-node"])],
        ] as const) {
          for (const [name] of out) {
            assert.ok(!HOP_BY_HOP.includes(name) && !named.has(name) && !dropped.has(name), name);
          }
          for (const [name, v] of Object.entries(h)) {
            if (HOP_BY_HOP.includes(name) || named.has(name) || dropped.has(name)) continue;
            assert.deepEqual(
              out.filter(([n]) => n === name).map(([, x]) => x),
              values(v),
            );
          }
        }
      }),
      runs(2000),
    );
  });
});
