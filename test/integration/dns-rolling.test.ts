import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { dnsConfig, replicaStates, startPod, startPods } from "../helpers/discovery.js";
import { type DnsServer, startDns, ZONE } from "../helpers/dns.js";
import { answerTo, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { connect, isGateway404, roundRobinSession } from "../helpers/mcp.js";
import { type ExampleReplica, type GatewayProc, owned, startGateway } from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

const NAME = `rolling.${ZONE}`;

describe("a rolling update through DNS, two gateways sharing Redis, signed session ids", () => {
  const procs = owned();
  let dns: DnsServer;
  let redis: RedisServer;
  let port: number;
  let pods: ExampleReplica[];
  let gateways: GatewayProc[];
  const key = randomBytes(32).toString("base64");
  const config = (resolver = "") =>
    dnsConfig(dns, [`dns+http://${NAME}:${port}/mcp`], {
      top: `affinity: token\ntokens:\n  keys: [{ id: 3, secret: ${key} }]\nstore:\n  url: ${redis.url}\n`,
      resolver,
    });
  const url = (address: string) => `http://${address}:${port}/mcp`;
  const everywhere = (what: string, check: (states: Record<string, string>) => boolean) =>
    waitFor(what, async () => (await Promise.all(gateways.map((g) => replicaStates(g.base)))).every(check));

  before(async () => {
    [dns, redis] = await Promise.all([procs.own(startDns()), procs.own(startRedis())]);
    ({ port, pods } = await startPods(["v1-a", "v1-b"], ["127.0.0.2", "127.0.0.3"]));
    for (const p of pods) procs.own(p);
    await dns.set(NAME, ["127.0.0.2", "127.0.0.3"]);
    gateways = await Promise.all([1, 2].map(() => procs.own(startGateway(["--config", config()]))));
    await everywhere("both pods serving", (s) => Object.values(s).filter((v) => v === "serving").length === 2);
  });
  after(() => procs.stopAll());

  it("under load: every call gets one outcome, no session moves, each client re-initializes at most once per pod it lost", async () => {
    // A pod that stops drops the calls it is answering (the example server does not finish them): those
    // get the gateway's explicit error; everything else is answered by the session's own pod, or gets 404.
    const bases = gateways.map((g) => g.base);
    const clients = 8;
    let stop = false;
    const report = { calls: 0, cut: 0, reinits: [] as number[], moved: 0, other: [] as string[] };
    const loop = async (i: number) => {
      let session = await roundRobinSession(bases);
      let home: string | undefined;
      let reinits = 0;
      while (!stop) {
        try {
          const answer = await session.whoami();
          report.calls++;
          home ??= answer.replica;
          if (answer.replica !== home) report.moved++;
        } catch (err) {
          if (!isGateway404("SWY_SESSION_REPLICA_GONE", "SWY_SESSION_NOT_FOUND")(err)) {
            // A call under way on the pod as it stopped: the gateway's explicit error, then the session's 404.
            if (/"code":"SWY_UPSTREAM_[A-Z_]+"/.test(String(err))) report.cut++;
            else report.other.push(String(err));
            continue;
          }
          // What an SDK client does on 404: a new session.
          await session.close().catch(() => {});
          session = await roundRobinSession(bases);
          home = undefined;
          reinits++;
        }
      }
      report.reinits[i] = reinits;
      await session.close().catch(() => {});
    };
    const running = Array.from({ length: clients }, (_, i) => loop(i));
    // v1-a → v2-a, then v1-b → v2-b: the new pod joins, the old one leaves the answer, then stops.
    const steps: Array<[ExampleReplica, string, string]> = [
      [pods[0] as ExampleReplica, "127.0.0.2", "127.0.0.4"],
      [pods[1] as ExampleReplica, "127.0.0.3", "127.0.0.5"],
    ];
    const answer = ["127.0.0.2", "127.0.0.3"];
    for (const [old, oldAddress, newAddress] of steps) {
      await procs.own(startPod(`v2-${old.name.slice(3)}`, newAddress, port));
      answer.push(newAddress);
      await dns.set(NAME, [...answer]);
      await everywhere("the new pod serving", (s) => s[url(newAddress)] === "serving");
      answer.splice(answer.indexOf(oldAddress), 1);
      await dns.set(NAME, [...answer]);
      await everywhere("the old pod draining", (s) => s[url(oldAddress)] === "draining");
      const calls = report.calls;
      await waitFor("calls to go on meanwhile", () => report.calls > calls + clients);
      await old.stop();
      await everywhere("the old pod gone", (s) => s[url(oldAddress)] === undefined);
    }
    const calls = report.calls;
    await waitFor("calls to go on after the update", () => report.calls > calls + 2 * clients);
    stop = true;
    await Promise.all(running);
    assert.deepEqual(report.other, [], "every call answered, or refused with the gateway's own error");
    assert.ok(report.cut <= clients * 2, `only calls under way as a pod stopped were cut (${report.cut})`);
    assert.equal(report.moved, 0, "no session answered by another pod than its own");
    assert.ok(
      report.reinits.every((n) => n <= 2),
      `at most one re-initialization per pod lost (${report.reinits.join(",")})`,
    );
    assert.ok(
      report.reinits.some((n) => n >= 1),
      "sessions on the stopped pods were refused, not moved",
    );
  });

  it("a gateway handed a session of a pod it has not resolved yet resolves again before answering 404", async () => {
    // This gateway would not resolve again for ten minutes on its own.
    const late = await procs.own(startGateway(["--config", config("  interval: 10m\n")]));
    const known = Object.keys(await replicaStates(late.base));
    const pod = await procs.own(startPod("v3", "127.0.0.6", port));
    const current = [...known.map((u) => new URL(u).hostname), "127.0.0.6"];
    await dns.set(NAME, current);
    const first = gateways[0] as GatewayProc;
    await waitFor(
      "the new pod serving at the first gateway",
      async () => (await replicaStates(first.base))[url("127.0.0.6")] === "serving",
    );
    assert.equal((await replicaStates(late.base))[url("127.0.0.6")], undefined, "not resolved yet by the late gateway");
    // A session created through the first gateway on the new pod…
    let onPod: Awaited<ReturnType<typeof connect>> | undefined;
    const others = [];
    for (let i = 0; i < 20 && !onPod; i++) {
      const s = await connect(first.route("svc"), `late${i}`);
      if ((await s.whoami()).replica === pod.name) onPod = s;
      else others.push(s);
    }
    assert.ok(onPod, "a session on the new pod");
    // …then sent to the late gateway: it looks the pod up before it would refuse the session.
    const res = await rawRequest(late.route("svc"), {
      headers: sessionHeaders(onPod.transport.sessionId as string),
      body: rpc("tools/call", { name: "whoami", arguments: {} }, 9),
    });
    assert.equal(res.status, 200, res.body.toString());
    const whoami = answerTo(res, 9).result?.structuredContent as { replica?: string } | undefined;
    assert.equal(whoami?.replica, pod.name, "answered by the session's own pod");
    assert.equal((await replicaStates(late.base))[url("127.0.0.6")], "serving");
    await Promise.all([onPod, ...others].map((s) => s.close()));
  });
});
