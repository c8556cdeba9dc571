import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { duration, size } from "../../src/config/units.js";
import { runs } from "./runs.js";

/**
 * Durations and sizes in the configuration (`15s`, `4MiB`): what an operator writes is what the gateway
 * uses, to the millisecond or byte; what it cannot use is refused with a message naming the value — never
 * read as something else (an infinite timeout, a fraction of a byte).
 */

const DURATION: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** A decimal number as written: integer digits, maybe a fraction of up to three digits. Exact value in thousandths. */
const amount = fc
  .tuple(
    fc.nat({ max: 100_000 }),
    fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([whole, frac, digits]) => {
    if (frac === undefined) return { text: String(whole), thousandths: whole * 1000 };
    const f = String(frac).padStart(3, "0").slice(0, digits);
    return { text: `${whole}.${f}`, thousandths: whole * 1000 + Number(f.padEnd(3, "0")) };
  });
const space = fc.constantFrom("", " ", "  ");
const anyCase = (s: string) =>
  fc
    .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
    .map((u) => [...s].map((c, i) => (u[i] ? c.toUpperCase() : c)).join(""));

describe("property: durations and sizes", () => {
  it("a written duration is the number of milliseconds it says (to the nearest one)", () => {
    fc.assert(
      fc.property(amount, fc.constantFrom(...Object.keys(DURATION)), space, space, (n, unit, inner, outer) => {
        const r = duration.safeParse(`${outer}${n.text}${inner}${unit}${outer}`);
        assert.ok(r.success, `${n.text}${unit}`);
        const exact = (n.thousandths * (DURATION[unit] as number)) / 1000;
        assert.ok(Math.abs(r.data - exact) <= 0.5 + 1e-6, `${n.text}${unit} → ${r.data}, not ${exact}`);
        assert.ok(Number.isSafeInteger(r.data) && r.data >= 0);
      }),
      runs(1500),
    );
  });

  it("a written size is the number of bytes it says, whatever the unit's case", () => {
    const unit = fc
      .constantFrom(...Object.keys(SIZE), "")
      .chain((u) => anyCase(u).map((written) => ({ unit: u || "b", written })));
    fc.assert(
      fc.property(amount, unit, space, (n, u, inner) => {
        const text = `${n.text}${u.written === "" ? "" : inner}${u.written}`;
        const r = size.safeParse(text);
        assert.ok(r.success, text);
        const exact = (n.thousandths * (SIZE[u.unit] as number)) / 1000;
        assert.ok(Math.abs(r.data - exact) <= 0.5 + 1e-6, `${text} → ${r.data}, not ${exact}`);
      }),
      runs(1500),
    );
  });

  it("anything accepted is a finite, non-negative whole number; anything refused names its value", () => {
    const digits = fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 400, size: "max" });
    const written = fc.oneof(
      fc
        .tuple(digits, fc.constantFrom("", ".5", ".000001"), fc.constantFrom("ms", "s", "m", "h", "b", "KiB", "gb"))
        .map((p) => p.join("")),
      fc.string({ maxLength: 12 }),
      fc.constantFrom("-1s", "1e3s", "Infinity", "NaN", "1.s", ".5s", "1 d", "0x10", "1_000ms", "１s", "5s5s", ""),
    );
    fc.assert(
      fc.property(written, fc.constantFrom("duration", "size"), (text, kind) => {
        const r = (kind === "duration" ? duration : size).safeParse(text);
        if (r.success) {
          assert.ok(Number.isSafeInteger(r.data) && r.data >= 0, `${JSON.stringify(text)} → ${r.data}`);
        } else {
          assert.ok(
            r.error.issues.some((i) => i.message.includes(`"${text}"`)),
            JSON.stringify(r.error.issues),
          );
        }
      }),
      runs(2000),
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double()), fc.constantFrom("duration", "size"), (n, kind) => {
        const r = (kind === "duration" ? duration : size).safeParse(n);
        assert.equal(r.success, Number.isSafeInteger(n) && n >= 0, String(n));
        if (r.success) assert.equal(r.data, n);
      }),
      runs(1000),
    );
  });
});
