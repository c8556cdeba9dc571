/** Protocol versions by era (see ../shared/docs/PROTOCOL.md). */
export const SSE_ERA_VERSIONS = ["2024-11-05"] as const;
export const LEGACY_VERSIONS = ["2025-03-26", "2025-06-18", "2025-11-25"] as const;
/** The first version of the stateless (modern) era. Later dates and drafts compare greater. */
export const FIRST_MODERN_VERSION = "2026-07-28";

/** Protocol versions compare as dates (YYYY-MM-DD), so lexicographic order is date order. */
export function isModernVersion(version: string): boolean {
  return version >= FIRST_MODERN_VERSION;
}
