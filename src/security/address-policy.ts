import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Which addresses a guarded upstream connection may reach (SSRF protection). Only globally routable
 * unicast passes: loopback, private, link-local (cloud metadata), CGNAT, unique-local, multicast,
 * unspecified, broadcast, reserved and documentation ranges, NAT64/6to4/Teredo forms are refused, and
 * IPv4-mapped IPv6 is judged as the IPv4 it carries. Ranges come from ipaddr.js, never from our own
 * parsing. An allow list (CIDRs) opens specific networks; a deny list closes more. Pure.
 */

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface AddressPolicy {
  allow: readonly Cidr[];
  deny: readonly Cidr[];
  /**
   * Host names whose addresses pass whatever their range (only the deny list still applies): an
   * operator opening an internal service to one tenant. `*.example.internal` matches its subdomains.
   */
  allowHosts?: readonly string[];
}

export function parseCidrs(list: readonly string[]): Cidr[] {
  return list.map((c) =>
    c.includes("/") ? ipaddr.parseCIDR(c) : ([ipaddr.parse(c), ipaddr.parse(c).kind() === "ipv4" ? 32 : 128] as Cidr),
  );
}

function within(addr: ipaddr.IPv4 | ipaddr.IPv6, list: readonly Cidr[]): boolean {
  return list.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));
}

/**
 * Why `ip` may not be reached, or undefined when it may. Anything that is not an IP address is refused.
 * `hostAllowed`: the address came from a host name on the policy's `allowHosts`.
 */
export function refusal(ip: string, policy: AddressPolicy, hostAllowed = false): string | undefined {
  if (isIP(ip) === 0) return "not an IP address";
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(ip);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress())
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (within(addr, policy.allow)) return undefined;
  if (within(addr, policy.deny)) return "on the deny list";
  if (hostAllowed) return undefined;
  const range = addr.range();
  return range === "unicast" ? undefined : range;
}

/** A host name as compared with `allowHosts`: lower case, without a trailing dot. */
function canonicalHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

/** Whether `host` is on the policy's `allowHosts` (exactly, or under a `*.` entry). */
export function isAllowedHost(host: string, policy: AddressPolicy): boolean {
  const list = policy.allowHosts;
  if (!list || list.length === 0) return false;
  const h = canonicalHost(host);
  return list.some((entry) => (entry.startsWith("*.") ? h.endsWith(entry.slice(1)) : h === entry));
}

/**
 * A tenant's allowlist (CIDRs, addresses and host names) added to the operator's policy. Entries that
 * are neither an address/CIDR nor a host name are refused (thrown) — the admin API checks first.
 */
export function withAllowList(base: AddressPolicy, list: readonly string[]): AddressPolicy {
  const cidrs: string[] = [];
  const hosts: string[] = [];
  for (const entry of list) (isAllowHostEntry(entry) ? hosts : cidrs).push(entry);
  return {
    allow: [...base.allow, ...parseCidrs(cidrs)],
    deny: base.deny,
    allowHosts: [...(base.allowHosts ?? []), ...hosts.map(canonicalHost)],
  };
}

const HOST_ENTRY = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

/** A host-name entry of an allowlist (`db.corp.internal`, `*.corp.internal`), not an address. */
export function isAllowHostEntry(entry: string): boolean {
  return isIP(entry) === 0 && !entry.includes("/") && HOST_ENTRY.test(entry);
}

/** Whether every entry of an allowlist is an address, a CIDR or a host name. */
export function validAllowList(list: readonly string[]): string | undefined {
  for (const entry of list) {
    if (isAllowHostEntry(entry)) continue;
    try {
      parseCidrs([entry]);
    } catch {
      return entry;
    }
  }
  return undefined;
}
