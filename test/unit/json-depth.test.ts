import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../src/protocol/json-depth.js";

describe("JSON nesting depth", () => {
  it("counts arrays and objects, up to and past the limit", () => {
    const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    assert.equal(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
    assert.equal(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
    assert.equal(nestsDeeperThan('{"a":{"b":[1,{"c":2}]}}', 4), false);
    assert.equal(nestsDeeperThan('{"a":{"b":[1,{"c":2}]}}', 3), true);
    assert.equal(nestsDeeperThan("[".repeat(100_000), MAX_JSON_DEPTH), true);
  });

  it("ignores brackets inside strings, escaped quotes included", () => {
    assert.equal(nestsDeeperThan(JSON.stringify({ text: "[[[[{{{{" }), 1), false);
    assert.equal(nestsDeeperThan(JSON.stringify({ text: 'say "[[[[" \\' }), 1), false);
    assert.equal(nestsDeeperThan(`["\\\\", [[]]]`, 2), true, "an escaped backslash ends before the quote");
  });
});
