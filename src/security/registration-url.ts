import { isIP } from "node:net";
import { type AddressPolicy, isAllowedHost, refusal } from "./address-policy.js";

/**
 * The first SSRF check, when a tenant registers a server URL (the second runs at every connection):
 * the WHATWG URL parser canonicalises the host (so `0x7f.1`, `２５５…` and trailing dots are read as a
 * browser would), then: `https` only (plain `http` when the operator allows it), no userinfo, no
 * fragment, a sane port, and a literal address must pass the address policy. Pure.
 */

/** Ports a registered server may not use: SMTP, SSH, DNS, databases, Redis, Docker, Kubernetes, metadata proxies… */
const BLOCKED_PORTS = new Set([
  0, 22, 23, 25, 53, 110, 111, 135, 139, 143, 445, 465, 587, 993, 995, 1433, 1521, 2375, 2376, 2379, 2380, 3306, 3389,
  5432, 5900, 5984, 6379, 6443, 9200, 9300, 10250, 11211, 27017,
]);

export type RegistrationCheck = { ok: true; url: string } | { ok: false; reason: string };

export function checkRegistrationUrl(
  raw: string,
  options: { allowHttp: boolean; policy: AddressPolicy },
): RegistrationCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  if (url.protocol !== "https:" && !(options.allowHttp && url.protocol === "http:")) {
    return { ok: false, reason: options.allowHttp ? "only http and https URLs" : "only https URLs" };
  }
  if (url.username !== "" || url.password !== "") return { ok: false, reason: "credentials in the URL" };
  if (url.hash !== "") return { ok: false, reason: "a fragment in the URL" };
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  if (BLOCKED_PORTS.has(port)) return { ok: false, reason: `port ${port} is not allowed` };
  // Without its trailing dots, the host is parsed again: `127.0.0.1..` is a name to the URL parser,
  // `127.0.0.1` an address, and the checks must see what is stored.
  url.hostname = url.hostname.replace(/\.+$/, "");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const local = host.toLowerCase() === "localhost" || host.toLowerCase().endsWith(".localhost");
  if (host === "" || host.endsWith(".") || (local && !isAllowedHost(host, options.policy))) {
    return { ok: false, reason: "a local host name" };
  }
  if (isIP(host) !== 0) {
    const why = refusal(host, options.policy);
    if (why !== undefined) return { ok: false, reason: `${host} is ${why}` };
  }
  return { ok: true, url: url.href };
}
