/** DNS-rebinding and cross-origin checks on Host and Origin. Pure. */

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Host name of a `Host` header value, lower-cased, without the port (`[::1]` keeps its brackets). */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.indexOf(":");
  return colon >= 0 ? h.slice(0, colon) : h;
}

export function isLoopbackName(name: string): boolean {
  return LOOPBACK_NAMES.has(name) || /^127(\.\d{1,3}){3}$/.test(name) || name.endsWith(".localhost");
}

export function isLoopbackAddress(address: string): boolean {
  return (
    address === "::1" ||
    address === "localhost" ||
    /^127(\.\d{1,3}){3}$/.test(address) ||
    address === "::ffff:127.0.0.1"
  );
}

export interface OriginHostPolicy {
  /** The listener is bound to a loopback address: only loopback Host names (or allowed ones) pass. */
  loopbackListener: boolean;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

/** Whether the `Host` header is acceptable. */
export function hostAllowed(host: string | undefined, policy: OriginHostPolicy): boolean {
  if (host === undefined || host === "") return false;
  const name = hostName(host);
  if (policy.allowedHosts.some((h) => h.toLowerCase() === name || h.toLowerCase() === host.toLowerCase())) {
    return true;
  }
  if (policy.loopbackListener) return isLoopbackName(name);
  return policy.allowedHosts.length === 0;
}

/**
 * Whether a present `Origin` is acceptable: the gateway's own origin (same host as `Host`), one listed
 * in `allowedOrigins`, or any when `*` is listed. On a loopback listener, loopback origins are the
 * gateway's own. `null` and malformed origins are refused.
 */
export function originAllowed(origin: string, host: string | undefined, policy: OriginHostPolicy): boolean {
  if (policy.allowedOrigins.includes("*")) return true;
  const normalized = origin.trim().toLowerCase();
  if (policy.allowedOrigins.some((o) => o.toLowerCase().replace(/\/$/, "") === normalized)) return true;
  let url: URL;
  try {
    url = new URL(normalized);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const originName = url.hostname;
  if (policy.loopbackListener && isLoopbackName(originName)) return true;
  return host !== undefined && url.host === host.trim().toLowerCase();
}
