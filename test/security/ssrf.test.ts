import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Client } from "undici";
import { parseCidrs, refusal, validAllowList, withAllowList } from "../../src/security/address-policy.js";
import { createConnector } from "../../src/upstream/connector.js";
import { errorCode, rawRequest } from "../helpers/http.js";
import { INIT_BODY } from "../helpers/mcp.js";
import { type GatewayProc, startGateway, writeConfig } from "../helpers/procs.js";

const DEFAULT_POLICY = { allow: [], deny: parseCidrs(["168.63.129.16/32", "fd00:ec2::254/128"]) };

/** A listener on every local address of one port, counting the connections it ever receives. */
async function victim(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((_req, res) => res.end("{}"));
  server.on("connection", () => count++);
  await new Promise<void>((resolve) => server.listen(0, "::", resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => count };
}

/** One request through a guarded connector: "connected", or the error code that stopped it. */
async function attemptThrough(connector: ReturnType<typeof createConnector>, origin: string): Promise<string> {
  const client = new Client(origin, { connect: connector });
  try {
    await client.request({ path: "/mcp", method: "GET" });
    return "connected";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? "error";
  } finally {
    await client.destroy();
  }
}

describe("SSRF: the address policy", () => {
  it("refuses every non-public range, in every encoding ipaddr.js reads", () => {
    for (const ip of [
      "127.0.0.1",
      "127.255.255.254",
      "10.0.0.1",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "255.255.255.255",
      "224.0.0.1",
      "240.0.0.1",
      "192.0.2.1",
      "198.51.100.1",
      "203.0.113.1",
      "198.18.0.1",
      "::1",
      "::",
      "fe80::1",
      "fc00::1",
      "fd00:ec2::254",
      "ff02::1",
      "2001:db8::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:169.254.169.254",
      "64:ff9b::7f00:1",
      "2002:7f00:1::1",
      "2001::1",
      "168.63.129.16",
    ]) {
      assert.ok(refusal(ip, DEFAULT_POLICY) !== undefined, `${ip} must be refused`);
    }
    for (const ip of ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"]) {
      assert.equal(refusal(ip, DEFAULT_POLICY), undefined, `${ip} is public`);
    }
    for (const notIp of ["localhost", "2130706433", "0x7f.1", "", "127.1"]) {
      assert.equal(refusal(notIp, DEFAULT_POLICY), "not an IP address", `${notIp} is not an address: never passes`);
    }
  });

  it("opens what the allow list names, and closes what the deny list names", () => {
    const policy = { allow: parseCidrs(["10.1.0.0/16"]), deny: parseCidrs(["8.8.4.0/24"]) };
    assert.equal(refusal("10.1.2.3", policy), undefined);
    assert.notEqual(refusal("10.2.0.1", policy), undefined);
    assert.equal(refusal("8.8.4.4", policy), "on the deny list");
  });

  it("reads a tenant's allowlist as CIDRs, addresses and host names, and nothing else", () => {
    assert.equal(
      validAllowList(["10.1.0.0/16", "192.168.1.7", "fd00::/8", "db.corp.internal", "*.corp.internal"]),
      undefined,
    );
    for (const bad of ["10.1.0.0/33", "http://db.corp", "*", "a b", "db.corp/24", "-bad-.corp"]) {
      assert.equal(validAllowList([bad]), bad, `${bad} is refused`);
    }
    const policy = withAllowList(DEFAULT_POLICY, ["10.9.0.0/16", "db.corp.internal"]);
    assert.equal(refusal("10.9.1.1", policy), undefined);
    assert.notEqual(refusal("10.8.1.1", policy), undefined, "only the named network opens");
    assert.notEqual(refusal("127.0.0.1", policy), undefined, "a host entry opens nothing by address");
  });
});

describe("SSRF: guarded connections never reach this machine", () => {
  let target: Awaited<ReturnType<typeof victim>>;
  let gateway: GatewayProc;
  let urls: string[];

  before(async () => {
    target = await victim();
    const p = target.port;
    urls = [
      `http://127.0.0.1:${p}/mcp`,
      `http://2130706433:${p}/mcp`,
      `http://0x7f000001:${p}/mcp`,
      `http://0177.0.0.1:${p}/mcp`,
      `http://127.1:${p}/mcp`,
      `http://0x7f.1:${p}/mcp`,
      `http://127.0.0.1.:${p}/mcp`,
      `http://0:${p}/mcp`,
      `http://localhost:${p}/mcp`,
      `http://LOCALHOST.:${p}/mcp`,
      `http://localhost.localdomain:${p}/mcp`,
      `http://[::1]:${p}/mcp`,
      `http://[::]:${p}/mcp`,
      `http://[::ffff:127.0.0.1]:${p}/mcp`,
      `http://[0:0:0:0:0:ffff:7f00:1]:${p}/mcp`,
      `http://１２７.０.０.１:${p}/mcp`,
      `http://127.0.0.1:${p}/mcp?@example.com`,
      `http://127.0.0.1:${p}/mcp#@example.com`,
      `http://[64:ff9b::7f00:1]:${p}/mcp`,
      `http://169.254.169.254:${p}/mcp`,
    ];
    const routes = urls.map((u, i) => `  r${i}:\n    guard: true\n    replicas: ["${u}"]\n`).join("");
    gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn\nhealth:\n  enabled: false\ntimeouts:\n  upstreamConnect: 1s\nupstreams:\n${routes}`),
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await new Promise((r) => target?.server.close(r));
  });

  it("refuses each encoding of a local or internal address with 502, connecting to nothing", async () => {
    for (const [i, url] of urls.entries()) {
      const res = await rawRequest(gateway.route(`r${i}`), { body: JSON.stringify(INIT_BODY) });
      assert.equal(res.status, 502, `${url}: ${res.body}`);
      assert.equal(errorCode(res).swy, "SWY_UPSTREAM_ADDRESS_REFUSED", url);
    }
    assert.equal(target.connections(), 0, "the listener on this machine was never reached");
    const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
    assert.match(metrics, /switchyard_faults_total\{where="connect",code="SWY_UPSTREAM_ADDRESS_REFUSED"\} 20/);
    assert.match(metrics, /switchyard_refusals_total\{code="SWY_UPSTREAM_ADDRESS_REFUSED"\} 20/);
  });

  it("pins DNS: a name that turns private after its check is refused, and resolver failure refuses", async () => {
    const answers = [["93.184.216.34"], ["127.0.0.1"], ["93.184.216.34", "10.0.0.1"]];
    let calls = 0;
    const resolve = async () => answers[calls++] ?? [];
    const connector = createConnector(300, { policy: DEFAULT_POLICY, resolve });
    const attempt = () => attemptThrough(connector, `http://rebind.test:${target.port}`);
    assert.notEqual(await attempt(), "connected", "public at first: tried there, never here");
    assert.equal(await attempt(), "SWY_ADDRESS_REFUSED", "private the second time: refused");
    assert.equal(await attempt(), "SWY_ADDRESS_REFUSED", "one private address among several: refused");
    assert.equal(await attempt(), "SWY_ADDRESS_REFUSED", "no address: refused");
    const failing = createConnector(300, {
      policy: DEFAULT_POLICY,
      resolve: async () => Promise.reject(new Error("SERVFAIL")),
    });
    const client = new Client(`http://down.test:${target.port}`, { connect: failing });
    await assert.rejects(
      client.request({ path: "/", method: "GET" }),
      (e: NodeJS.ErrnoException) => e.code === "SWY_ADDRESS_REFUSED",
    );
    await client.destroy();
    assert.equal(target.connections(), 0);
  });

  it("never follows a redirect to an internal address", async () => {
    let redirected = 0;
    const upstream = createServer((req, res) => {
      redirected++;
      req.resume();
      res.writeHead(307, { location: `http://127.0.0.1:${target.port}/mcp` }).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.2", resolve));
    const { port } = upstream.address() as AddressInfo;
    const g = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
health:
  enabled: false
discovery:
  enabled: false
security:
  ssrf:
    allow: ["127.0.0.2/32"]
upstreams:
  svc:
    guard: true
    replicas: ["http://127.0.0.2:${port}/mcp"]
`),
    ]);
    try {
      const res = await rawRequest(g.route("svc"), { body: JSON.stringify(INIT_BODY) });
      assert.equal(res.status, 307, "the redirect is the client's to see, not the gateway's to follow");
      assert.equal(redirected, 1, "the allowed upstream was reached");
      assert.equal(target.connections(), 0, "the redirect target never was");
    } finally {
      await g.stop();
      await new Promise((r) => upstream.close(r));
    }
  });
  it("opens a tenant's named internal host, and only it; the deny list still holds (counted connections)", async () => {
    const names: Record<string, string[]> = {
      "db.corp.internal": ["127.0.0.1"],
      "api.corp.internal": ["127.0.0.1"],
      "other.internal": ["127.0.0.1"],
      "metadata.corp.internal": ["168.63.129.16"],
    };
    const policy = withAllowList(DEFAULT_POLICY, ["db.corp.internal", "*.corp.internal"]);
    const connector = createConnector(300, { policy, resolve: async (h) => names[h] ?? [] });
    const attempt = (host: string) => attemptThrough(connector, `http://${host}:${target.port}`);
    const before = target.connections();
    assert.equal(await attempt("other.internal"), "SWY_ADDRESS_REFUSED", "a name the tenant was not given");
    assert.equal(
      await attempt("metadata.corp.internal"),
      "SWY_ADDRESS_REFUSED",
      "the deny list wins over the allowlist",
    );
    assert.equal(target.connections(), before, "nothing reached this machine so far");
    assert.equal(await attempt("db.corp.internal"), "connected");
    assert.equal(await attempt("api.corp.internal"), "connected", "under a *. entry");
    assert.equal(target.connections(), before + 2);
  });
});
