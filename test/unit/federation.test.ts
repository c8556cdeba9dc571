import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeCursor, mergeCapabilities, mergeInstructions, mergePages } from "../../src/federation/merge.js";
import { exposedName, type NamePolicy, NameTable } from "../../src/federation/names.js";
import { decodeHeaderValue, encodeHeaderValue, paramHeaders } from "../../src/protocol/routing-headers.js";

const policy = (over: Partial<NamePolicy> = {}): NamePolicy => ({
  prefix: "{member}_",
  allow: ["*"],
  deny: [],
  rename: {},
  ...over,
});

describe("federation names", () => {
  it("prefixes tools and prompts with the member's name, filters tools by glob, renames", () => {
    const p = policy({ deny: ["a_secret*"], allow: ["a_*", "b_lookup"], rename: { a_get: "fetch" } });
    assert.equal(exposedName(p, "a", "list", "tool"), "a_list");
    assert.equal(exposedName(p, "a", "secret_key", "tool"), undefined, "denied");
    assert.equal(exposedName(p, "b", "other", "tool"), undefined, "not allowed");
    assert.equal(exposedName(p, "b", "lookup", "tool"), "b_lookup");
    assert.equal(exposedName(p, "a", "get", "tool"), "fetch");
    assert.equal(exposedName(p, "b", "other", "prompt"), "b_other", "the tool globs do not filter prompts");
    assert.equal(exposedName(policy({ prefix: "" }), "a", "x", "tool"), "x");
    assert.equal(exposedName(policy({ allow: ["a_?"] }), "a", "xy", "tool"), undefined, "? is one character");
  });

  it("a name two members give collides: neither keeps it, and both are named", () => {
    const t = new NameTable();
    t.add("search", { member: "a", name: "search" });
    t.add("fetch", { member: "a", name: "fetch" });
    t.add("search", { member: "b", name: "search" });
    t.add("search", { member: "c", name: "find" });
    assert.equal(t.get("search"), undefined);
    assert.ok(t.collided("search"));
    assert.deepEqual(t.get("fetch"), { member: "a", name: "fetch" });
    assert.deepEqual(t.collisions(), ["search (from a, b, c)"]);
  });
});

describe("federation merge", () => {
  it("capabilities: the union, flags set by any member, list changes always announced", () => {
    const merged = mergeCapabilities([
      { tools: { listChanged: false }, logging: {} },
      { resources: { subscribe: true }, tools: {} },
    ]);
    assert.deepEqual(merged, {
      tools: { listChanged: true },
      logging: {},
      resources: { subscribe: true, listChanged: true },
    });
  });

  it("instructions: its own, then each member's under its name", () => {
    assert.equal(
      mergeInstructions("Top.", [
        ["a", "Use a."],
        ["b", undefined],
        ["c", " "],
      ]),
      "Top.\n\n## a\n\nUse a.",
    );
    assert.equal(mergeInstructions(undefined, [["b", 3]]), undefined);
  });

  it("pages: items in member order, a cursor that carries each member's next one, the strictest hints", () => {
    const first = mergePages("tools/list", [
      { member: "a", items: [{ name: "a_1" }], nextCursor: "A2", ttlMs: 60_000, cacheScope: "public" },
      { member: "b", items: [{ name: "b_1" }], nextCursor: undefined, ttlMs: 5_000, cacheScope: "private" },
    ]);
    assert.deepEqual(first.tools, [{ name: "a_1" }, { name: "b_1" }]);
    assert.equal(first.ttlMs, 5_000);
    assert.equal(first.cacheScope, "private");
    const cursor = decodeCursor(first.nextCursor as string, ["a", "b"]);
    assert.deepEqual(cursor, { a: "A2" }, "b is done; a goes on from its own cursor");
    const last = mergePages("tools/list", [{ member: "a", items: [{ name: "a_2" }], nextCursor: undefined }]);
    assert.equal(last.nextCursor, undefined);
    assert.equal(last.ttlMs, undefined, "no hints unless every member gave them");
  });

  it("refuses a cursor it never gave", () => {
    assert.equal(decodeCursor("not-base64-json", ["a"]), undefined);
    assert.equal(decodeCursor(Buffer.from(JSON.stringify({ z: "1" })).toString("base64url"), ["a"]), undefined);
    assert.equal(decodeCursor(Buffer.from(JSON.stringify({ a: 7 })).toString("base64url"), ["a"]), undefined);
  });
});

describe("modern header values", () => {
  it("plain ASCII as it is, anything else in the base64 form, and back", () => {
    for (const v of ["us-west1", "a b", "Zürich", " padded", "", "=?base64?eA==?=", "tab\tinside"]) {
      const encoded = encodeHeaderValue(v);
      assert.equal(decodeHeaderValue(encoded), v, "decodes to what was encoded");
      if (/^[\t\x20-\x7e]+$/.test(v) && v.trim() === v && !v.startsWith("=?")) assert.equal(encoded, v);
      else assert.match(encoded, /^=\?base64\?/);
    }
  });

  it("Mcp-Param-* headers for the arguments the tool's schema maps to headers (properties only)", () => {
    const schema = {
      type: "object",
      properties: {
        region: { type: "string", "x-mcp-header": "Region" },
        count: { type: "integer", "x-mcp-header": "Count" },
        nested: { type: "object", properties: { flag: { type: "boolean", "x-mcp-header": "Flag" } } },
        plain: { type: "string" },
      },
    };
    assert.deepEqual(paramHeaders(schema, { region: "Zürich", count: 3, nested: { flag: false }, plain: "x" }), [
      "mcp-param-region",
      encodeHeaderValue("Zürich"),
      "mcp-param-count",
      "3",
      "mcp-param-flag",
      "false",
    ]);
    assert.deepEqual(paramHeaders(schema, { count: { not: "primitive" } }), [], "absent or not primitive: no header");
  });
});
