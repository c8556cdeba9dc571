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
}

export function parseCidrs(list: readonly string[]): Cidr[] {
  return list.map((c) =>
    c.includes("/") ? ipaddr.parseCIDR(c) : ([ipaddr.parse(c), ipaddr.parse(c).kind() === "ipv4" ? 32 : 128] as Cidr),
  );
}

function within(addr: ipaddr.IPv4 | ipaddr.IPv6, list: readonly Cidr[]): boolean {
  return list.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));
}

/** Why `ip` may not be reached, or undefined when it may. Anything that is not an IP address is refused. */
export function refusal(ip: string, policy: AddressPolicy): string | undefined {
  if (isIP(ip) === 0) return "not an IP address";
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(ip);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress())
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (within(addr, policy.allow)) return undefined;
  if (within(addr, policy.deny)) return "on the deny list";
  const range = addr.range();
  return range === "unicast" ? undefined : range;
}
