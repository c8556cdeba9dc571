import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { parseCidrs } from "../../src/security/address-policy.js";
import { hostAllowed, type OriginHostPolicy, originAllowed } from "../../src/security/origin-host.js";
import { checkRegistrationUrl } from "../../src/security/registration-url.js";
import { runs } from "./runs.js";

/**
 * Two checks that read attacker-chosen text: a tenant's server URL (SSRF at registration) and the Host
 * and Origin of a request (DNS rebinding, cross-origin calls). However the text is spelled, the decision
 * must be the one its meaning calls for.
 */

const policy = { allow: [], deny: parseCidrs(["168.63.129.16/32"]) };
const register = (url: string) => checkRegistrationUrl(url, { allowHttp: true, policy });

/** Addresses from the ranges an upstream must never be: loopback, private, link-local, CGNAT, multicast, … */
const INTERNAL_V4 = [
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "100.64.0.0/10",
  "0.0.0.0/8",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "192.0.2.0/24",
  "198.18.0.0/15",
];
const v4In = (cidr: string) => {
  const [net, bits] = ipaddr.parseCIDR(cidr) as [ipaddr.IPv4, number];
  const base = net.toByteArray().reduce((a, b) => a * 256 + b, 0);
  return fc.nat({ max: 2 ** (32 - bits) - 1 }).map((n) => base + n);
};
const internalV4 = fc.oneof(...INTERNAL_V4.map(v4In));
const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** Every way a URL host can spell an IPv4 address that the WHATWG parser reads back as that address. */
const spelled = (n: number) => {
  const o = octets(n);
  return fc.constantFrom(
    o.join("."),
    String(n),
    `0x${n.toString(16)}`,
    o.map((x) => `0x${x.toString(16)}`).join("."),
    o.map((x) => `0${x.toString(8)}`).join("."),
    `${o[0]}.${(n & 0xffffff) >>> 0}`,
    `${o[0]}.${o[1]}.${n & 0xffff}`,
    `${o.join(".")}.`,
    `${o.join(".")}..`,
    `0x${n.toString(16)}...`,
    o.join(".").replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d))),
    o.map((x) => `%3${String(x).split("").join("%3")}`).join("."),
    `[::ffff:${o.join(".")}]`,
    `[::ffff:${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}]`,
  );
};

const INTERNAL_V6 = ["::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "64:ff9b::a00:1", "2002:a00:1::1"];

describe("property: registering a tenant's server URL", () => {
  it("an internal IPv4 address is refused however its host is spelled", () => {
    fc.assert(
      fc.property(
        internalV4.chain((n) => spelled(n).map((host) => ({ n, host }))),
        fc.constantFrom("https", "http"),
        fc.constantFrom("", ":443", ":8443"),
        ({ n, host }, scheme, port) => {
          const url = `${scheme}://${host}${port}/mcp`;
          let named: string;
          try {
            // What the host names once its trailing dots are gone (`10.0.0.1..` is a name, `10.0.0.1` is not).
            named = new URL(`${scheme}://${host.replace(/\.+$/, "")}`).hostname;
          } catch {
            return; // not a URL at all
          }
          fc.pre(named === octets(n).join(".") || named.startsWith("[::ffff:"));
          const r = register(url);
          assert.equal(r.ok, false, `${url} (${octets(n).join(".")}) accepted`);
        },
      ),
      runs(2000),
    );
  });

  it("an internal IPv6 address is refused, and so is a local name, whatever its case and trailing dots", () => {
    const local = fc
      .tuple(
        fc.constantFrom("localhost", "api.localhost", "a.b.localhost"),
        fc.array(fc.boolean(), { maxLength: 14 }),
        fc.constantFrom("", ".", ".."),
      )
      .map(([name, up, dots]) => `${[...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join("")}${dots}`);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(...INTERNAL_V6).map((a) => `[${a}]`),
          local,
        ),
        (host) => {
          assert.equal(register(`https://${host}/mcp`).ok, false, host);
        },
      ),
      runs(500),
    );
  });

  it("a public address or name is accepted, canonicalised, and stays what it was", () => {
    const publicV4 = fc
      .nat({ max: 2 ** 32 - 1 })
      .map((n) => octets(n).join("."))
      .filter((a) => ipaddr.parse(a).range() === "unicast" && a !== "168.63.129.16");
    fc.assert(
      fc.property(fc.oneof(publicV4, fc.domain()), fc.webPath(), (host, path) => {
        fc.pre(!/(^|\.)localhost$/i.test(host));
        const r = register(`https://${host}${path}`);
        assert.ok(r.ok, `https://${host}${path}: ${r.ok || r.reason}`);
        assert.equal(new URL(r.url).hostname, new URL(`https://${host}`).hostname.replace(/\.$/, ""));
      }),
      runs(1000),
    );
  });
});

describe("property: Host and Origin", () => {
  const loopback: OriginHostPolicy = { loopbackListener: true, allowedHosts: [], allowedOrigins: [] };
  const loopbackName = fc.oneof(
    fc.constantFrom("localhost", "LocalHost", "127.0.0.1", "[::1]", "app.localhost"),
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `127.${a}.${b}.${c}`),
  );
  const port = fc.oneof(
    fc.constant(""),
    fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`),
  );
  const foreign = fc.domain().filter((d) => !/(^|\.)localhost$/i.test(d));

  it("on a loopback listener, only loopback Host names pass (DNS rebinding)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          loopbackName.map((h) => [h, true] as const),
          foreign.map((h) => [h, false] as const),
        ),
        port,
        ([h, ok], p) => {
          assert.equal(hostAllowed(`${h}${p}`, loopback), ok, `${h}${p}`);
        },
      ),
      runs(1000),
    );
  });

  it("an Origin passes only when it is the gateway's own, a loopback one on a loopback listener, or allowed", () => {
    const allowed = "https://app.example.com";
    const pub: OriginHostPolicy = { loopbackListener: false, allowedHosts: [], allowedOrigins: [allowed] };
    fc.assert(
      fc.property(foreign, port, fc.constantFrom("http", "https"), foreign, (originHost, p, scheme, gwHost) => {
        const origin = `${scheme}://${originHost}${p}`;
        const url = new URL(origin);
        const same = url.host === gwHost;
        const isAllowed = url.origin === allowed;
        assert.equal(originAllowed(origin, gwHost, pub), same || isAllowed, `${origin} on ${gwHost}`);
        assert.equal(originAllowed(origin, url.host, pub), true, "its own origin");
        assert.equal(originAllowed(origin, gwHost, loopback), same, `${origin} to a loopback gateway`);
      }),
      runs(1000),
    );
    fc.assert(
      fc.property(loopbackName, port, (h, p) => {
        assert.ok(originAllowed(`http://${h}${p}`, "localhost:8080", loopback));
        assert.ok(!originAllowed(`http://${h}${p}`, "gw.example.com", pub));
      }),
      runs(300),
    );
    for (const o of ["null", "file://", "chrome-extension://abc", "http://", ""]) {
      assert.equal(originAllowed(o, "localhost:8080", loopback), false, o);
    }
  });
});
