import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import { assertGoneNotMoved, assertLivesOn } from "../helpers/affinity.js";
import { dnsConfig, replicaStates, startPods } from "../helpers/discovery.js";
import { type DnsServer, startDns, ZONE } from "../helpers/dns.js";
import { rawRequest } from "../helpers/http.js";
import { connect, INIT_BODY, type Session } from "../helpers/mcp.js";
import { type ExampleReplica, type GatewayProc, owned, startGateway } from "../helpers/procs.js";
import { makeTestPki } from "../helpers/tls.js";
import { metricValue, waitFor } from "../helpers/wait.js";

const NAME = `tickets.${ZONE}`;

async function sessions(gateway: GatewayProc, n: number, prefix: string): Promise<Session[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => connect(gateway.route("svc"), `${prefix}${i}`)));
}

/** The replica each session lives on (its `whoami`). */
async function homes(list: Session[]): Promise<string[]> {
  return (await Promise.all(list.map((s) => s.whoami()))).map((w) => w.replica);
}

describe("replicas discovered in DNS: a headless Service that scales out and in", () => {
  const procs = owned();
  let dns: DnsServer;
  let pods: ExampleReplica[];
  let port: number;
  let gateway: GatewayProc;
  const url = (address: string) => `http://${address}:${port}/mcp`;

  before(async () => {
    dns = await procs.own(startDns());
    ({ port, pods } = await startPods(["p2", "p3"], ["127.0.0.2", "127.0.0.3"]));
    for (const p of pods) procs.own(p);
    await dns.set(NAME, ["127.0.0.2"]);
    gateway = await procs.own(startGateway(["--config", dnsConfig(dns, [`dns+http://${NAME}:${port}/mcp`])]));
  });
  after(() => procs.stopAll());

  it("scale out: the new replica serves new sessions once it passed its check; no existing session moves", async () => {
    const [p2, p3] = pods as [ExampleReplica, ExampleReplica];
    await waitFor(
      "the pod to pass its first check",
      async () => (await replicaStates(gateway.base))[url("127.0.0.2")] === "serving",
    );
    const before = await sessions(gateway, 6, "early");
    assert.deepEqual(new Set(await homes(before)), new Set(["p2"]), "one replica in DNS: every session on it");
    // Under load: the existing sessions call on while the pool grows.
    let stop = false;
    const answers: string[] = [];
    const failures: string[] = [];
    const load = Promise.all(
      before.map(async (s) => {
        while (!stop)
          await s.whoami().then(
            (w) => answers.push(w.replica),
            (err: unknown) => failures.push(String(err)),
          );
      }),
    );
    // A new pod in the answer, and one that does not answer at all (not ready, or already gone).
    await dns.set(NAME, ["127.0.0.2", "127.0.0.3", "127.0.0.9"]);
    await waitFor(
      "the new pod to serve",
      async () => (await replicaStates(gateway.base))[url("127.0.0.3")] === "serving",
    );
    assert.equal(
      (await replicaStates(gateway.base))[url("127.0.0.9")],
      "joining",
      "never checked healthy: never serves",
    );
    const calls = answers.length;
    await waitFor("calls to go on", () => answers.length > calls + 12);
    stop = true;
    await load;
    assert.deepEqual(failures, [], "no call of an existing session failed");
    assert.ok(
      answers.every((r) => r === "p2"),
      "every call of an existing session answered by its own pod",
    );
    const after = await sessions(gateway, 8, "late");
    const placed = await homes(after);
    assert.ok(placed.includes("p3"), `new sessions reach the new pod (${placed.join(",")})`);
    assert.ok(
      placed.every((h) => h === "p2" || h === "p3"),
      "none went to the address that never answered",
    );
    for (const s of before) await assertLivesOn(await s.whoami(), p2);
    const early = await Promise.all(before.map(async (s) => (await s.whoami()).session));
    for (const hash of early) assert.equal(await p3.sawSession(hash), 0, "no existing session moved to the new pod");
    await Promise.all([...before, ...after].map((s) => s.close()));
  });

  it("scale in: the pod leaves DNS and keeps serving its sessions, no new one lands there; once killed, its sessions get 404", async () => {
    const [p2, p3] = pods as [ExampleReplica, ExampleReplica];
    await dns.set(NAME, ["127.0.0.2", "127.0.0.3"]);
    await waitFor("both pods serving", async () => {
      const states = await replicaStates(gateway.base);
      return states[url("127.0.0.2")] === "serving" && states[url("127.0.0.3")] === "serving";
    });
    const all = await sessions(gateway, 8, "in");
    const placed = await homes(all);
    const leaving = all.filter((_, i) => placed[i] === "p3");
    const staying = all.filter((_, i) => placed[i] === "p2");
    assert.ok(leaving.length > 0 && staying.length > 0, `sessions on both pods (${placed.join(",")})`);
    // Kubernetes removes a terminating pod from the answer at once; it serves on through its grace period.
    await dns.set(NAME, ["127.0.0.2"]);
    await waitFor("the pod to drain", async () => (await replicaStates(gateway.base))[url("127.0.0.3")] === "draining");
    for (const s of leaving) await assertLivesOn(await s.whoami(), p3);
    const fresh = await sessions(gateway, 6, "fresh");
    assert.deepEqual(new Set(await homes(fresh)), new Set(["p2"]), "no new session on the draining pod");
    // Back in the answer without having gone down (a pod that was unready a moment): it serves on, with
    // its sessions; then it leaves again.
    await dns.set(NAME, ["127.0.0.2", "127.0.0.3"]);
    await waitFor(
      "the pod to serve again",
      async () => (await replicaStates(gateway.base))[url("127.0.0.3")] === "serving",
    );
    for (const s of leaving) await assertLivesOn(await s.whoami(), p3);
    await dns.set(NAME, ["127.0.0.2"]);
    await waitFor(
      "the pod to drain again",
      async () => (await replicaStates(gateway.base))[url("127.0.0.3")] === "draining",
    );
    // Its grace period is over.
    const answer = await (leaving[0] as Session).whoami();
    const transitions = `switchyard_replica_transitions_total{route="svc",state="gone"}`;
    const goneBefore = await metricValue(`${gateway.base}/metrics`, transitions);
    await p3.stop("SIGKILL");
    await waitFor(
      "the drained pod to be gone",
      async () => (await metricValue(`${gateway.base}/metrics`, transitions)) > goneBefore,
    );
    assert.equal((await replicaStates(gateway.base))[url("127.0.0.3")], undefined);
    await assertGoneNotMoved(() => (leaving[0] as Session).whoami(), answer, [p2], ["SWY_SESSION_REPLICA_GONE"]);
    for (const s of staying) await assertLivesOn(await s.whoami(), p2);
    // A new SDK session (what a client does after the 404) lands on the pod that stays.
    const again = await connect(gateway.route("svc"), "again");
    assert.equal((await again.whoami()).replica, "p2");
    await Promise.all([...all, ...fresh, again].map((s) => s.close().catch(() => {})));
  });

  it("the DNS server stops answering: the pool is kept, service goes on", async () => {
    const failed = `switchyard_dns_resolutions_total{route="svc",outcome="failed"}`;
    const before = await metricValue(`${gateway.base}/metrics`, failed);
    const states = await replicaStates(gateway.base);
    const logged = () => gateway.lines.filter((l) => l.includes("dns resolution failed")).length;
    const linesBefore = logged();
    dns.pause();
    try {
      // Several failed resolutions (one a second), one log line: logged once per change, counted each time.
      await waitFor(
        "failed resolutions",
        async () => (await metricValue(`${gateway.base}/metrics`, failed)) >= before + 2,
      );
      assert.equal(logged() - linesBefore, 1, "one log line for the outage");
      assert.deepEqual(await replicaStates(gateway.base), states, "the last answer is kept");
      const s = await connect(gateway.route("svc"), "during-outage");
      assert.equal((await s.whoami()).replica, "p2");
      await s.close();
    } finally {
      dns.resume();
    }
  });
});

describe("replicas discovered in DNS: a name that goes away, SRV records, entries mixed", () => {
  const procs = owned();
  let dns: DnsServer;
  let pods: ExampleReplica[];
  let port: number;

  before(async () => {
    dns = await procs.own(startDns());
    ({ port, pods } = await startPods(["s2", "s3", "s4"], ["127.0.0.2", "127.0.0.3", "127.0.0.4"]));
    for (const p of pods) procs.own(p);
  });
  after(() => procs.stopAll());

  it("a name that is gone empties its pool only after resolver.removeAfter: then new sessions get 503 with Retry-After", async () => {
    await dns.set(`gone.${ZONE}`, ["127.0.0.2"]);
    const gateway = await procs.own(
      startGateway([
        "--config",
        dnsConfig(dns, [`dns+http://gone.${ZONE}:${port}/mcp`], { resolver: "  removeAfter: 2s\n" }),
      ]),
    );
    const gone = `switchyard_dns_resolutions_total{route="svc",outcome="gone"}`;
    await dns.set(`gone.${ZONE}`, []);
    await waitFor("the name to be seen gone", async () => (await metricValue(`${gateway.base}/metrics`, gone)) > 0);
    const s = await connect(gateway.route("svc"), "still");
    assert.equal((await s.whoami()).replica, "s2", "an NXDOMAIN does not empty the pool at once");
    // Its replicas drain: sessions go on while they answer, nothing new goes there.
    await waitFor("the pool to empty", async () =>
      Object.values(await replicaStates(gateway.base)).every((state) => state === "draining"),
    );
    assert.equal((await s.whoami()).replica, "s2", "a draining replica keeps its sessions");
    const refused = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
    assert.equal(refused.status, 503);
    assert.ok(refused.headers["retry-after"], "Retry-After");
    assert.match(refused.body.toString(), /SWY_NO_HEALTHY_UPSTREAM/);
    await s.close().catch(() => {});
    await gateway.stop();
  });

  it("SRV records name targets and ports; a listed replica and a DNS entry share one pool", async () => {
    await dns.set(`s3.${ZONE}`, ["127.0.0.3"]);
    await dns.set(`s4.${ZONE}`, ["127.0.0.4"]);
    const srv = `_mcp._tcp.${ZONE}`;
    await dns.setSrv([
      { name: srv, target: `s3.${ZONE}`, port },
      { name: srv, target: `s4.${ZONE}`, port },
    ]);
    const gateway = await procs.own(
      startGateway([
        "--config",
        dnsConfig(dns, [`http://127.0.0.2:${port}/mcp`, `dns+srv+http://${srv}/mcp`], {
          route: "    balancer: round-robin",
        }),
      ]),
    );
    await waitFor("three replicas serving", async () => {
      const states = Object.values(await replicaStates(gateway.base));
      return states.length === 3 && states.every((s) => s === "serving");
    });
    const list = await sessions(gateway, 6, "srv");
    assert.deepEqual(new Set(await homes(list)), new Set(["s2", "s3", "s4"]));
    await Promise.all(list.map((s) => s.close()));
    await gateway.stop();
  });

  it("dns+https: reaches each address over TLS, checking the certificate against the name (SNI)", async () => {
    // A certificate for the name only: checked against the address, it would fail.
    const pki = makeTestPki(90, `DNS:secure.${ZONE}`);
    let servername: string | false | null | undefined;
    const server = createHttpsServer(
      { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) },
      (req, res) => {
        servername = (req.socket as TLSSocket).servername;
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "tls-1" });
        res.end(
          '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"tls","version":"1"}}}',
        );
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.7", resolve));
    try {
      const tlsPort = (server.address() as AddressInfo).port;
      await dns.set(`secure.${ZONE}`, ["127.0.0.7"]);
      const gateway = await procs.own(
        startGateway(["--config", dnsConfig(dns, [`dns+https://secure.${ZONE}:${tlsPort}/mcp`])], {
          NODE_EXTRA_CA_CERTS: pki.ca,
        }),
      );
      await waitFor("the TLS replica to serve", async () =>
        Object.values(await replicaStates(gateway.base)).includes("serving"),
      );
      const init = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
      assert.equal(init.status, 200, init.body.toString());
      assert.equal(servername, `secure.${ZONE}`, "the name, sent as SNI");
      assert.deepEqual(Object.keys(await replicaStates(gateway.base)), [`https://127.0.0.7:${tlsPort}/mcp`]);
      await gateway.stop();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
