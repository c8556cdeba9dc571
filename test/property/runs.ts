/**
 * How many cases a property tries: `n` by default (the whole set stays within seconds), times
 * `PROPERTY_SCALE` when set, for a longer hunt (`PROPERTY_SCALE=50 node scripts/test.mjs test/property/*.test.ts`).
 * A failure prints its seed and path; `PROPERTY_SEED` replays it.
 */
const scale = Number(process.env.PROPERTY_SCALE ?? "1");
const seed = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);

export function runs(n: number): { numRuns: number; seed?: number } {
  const numRuns = Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
  return seed === undefined || !Number.isFinite(seed) ? { numRuns } : { numRuns, seed };
}
