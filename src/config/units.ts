import { z } from "zod";

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** A parsed amount, unless too large to be exact (a number written as such must be a safe integer too). */
function safe(n: number, written: string, ctx: z.RefinementCtx): number {
  if (Number.isSafeInteger(n)) return n;
  ctx.addIssue({ code: "custom", message: `"${written}" is too large` });
  return z.NEVER;
}

/** A duration: milliseconds as a number, or a string such as `500ms`, `15s`, `2m`, `1h`. Parsed to ms. */
export const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = DURATION.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (use e.g. 500ms, 15s, 2m, 1h)` });
    return z.NEVER;
  }
  return safe(Math.round(Number(m[1]) * (DURATION_MS[m[2] as string] as number)), v, ctx);
});

/** A size: bytes as a number, or a string such as `256KiB`, `4MiB`, `1MB`. Parsed to bytes. */
export const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = SIZE.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a size (use e.g. 256KiB, 4MiB, 1MB)` });
    return z.NEVER;
  }
  return safe(Math.round(Number(m[1]) * (SIZE_BYTES[(m[2] ?? "b").toLowerCase()] as number)), v, ctx);
});

/** The longest a Node timer waits (2^31 - 1 ms, about 24.8 days): past it, it fires at once, again and again. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration option with its default and documentation (typed as `duration` in the reference). One that
 * becomes a timer (all but a few) is at most `MAX_TIMER_MS`.
 */
export function durationOption(fallback: string, description: string, options: { timer?: boolean } = {}) {
  const checked =
    options.timer === false
      ? duration
      : duration.refine((ms) => ms <= MAX_TIMER_MS, { message: "at most 24d (596h): no timer waits longer" });
  return checked.prefault(fallback).meta({ title: "duration", description });
}

/** A size option with its default and documentation (typed as `size` in the reference). */
export function sizeOption(fallback: string, description: string) {
  return size.prefault(fallback).meta({ title: "size", description });
}
