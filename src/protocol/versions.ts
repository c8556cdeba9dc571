/**
 * The first version of the stateless (modern) era (see ../shared/docs/PROTOCOL.md); 2024-11-05 is
 * HTTP+SSE, 2025-03-26 … 2025-11-25 legacy Streamable HTTP. Later dates and drafts compare greater.
 */
export const FIRST_MODERN_VERSION = "2026-07-28";

/** Protocol versions compare as dates (YYYY-MM-DD), so lexicographic order is date order. */
export function isModernVersion(version: string): boolean {
  return version >= FIRST_MODERN_VERSION;
}

/** The versions of the legacy Streamable HTTP era, oldest first. */
export const LEGACY_VERSIONS = ["2025-03-26", "2025-06-18", "2025-11-25"] as const;

/** The newest version of the legacy era: what the gateway asks for when it opens a session itself. */
export const LATEST_LEGACY_VERSION = "2025-11-25";
