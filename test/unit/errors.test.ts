import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ERRORS, errorBody, SwitchyardError } from "../../src/errors.js";

describe("the error table", () => {
  it("is documented in docs/errors.md, row for row", () => {
    const page = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
    const rows = new Map(
      [...page.matchAll(/^\| `(SWY_[A-Z_]+)` \| (\d+) \| (-?\d+) \|/gm)].map((m) => [
        m[1],
        [Number(m[2]), Number(m[3])],
      ]),
    );
    assert.deepEqual(
      [...rows.keys()].sort(),
      Object.keys(ERRORS).sort(),
      "every code, and only those, has a row in docs/errors.md",
    );
    for (const [code, e] of Object.entries(ERRORS)) assert.deepEqual(rows.get(code), [e.status, e.rpc], code);
  });

  it("renders a JSON-RPC error body with the stable code", () => {
    const body = JSON.parse(errorBody(new SwitchyardError("SWY_SESSION_NOT_FOUND"), "abc"));
    assert.deepEqual(body, {
      jsonrpc: "2.0",
      id: "abc",
      error: { code: -32001, message: "Session not found", data: { code: "SWY_SESSION_NOT_FOUND" } },
    });
  });
});
