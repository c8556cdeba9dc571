import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest } from "../helpers/http.js";
import { connect, connectModern, MODERN_META, modernBody, modernHeaders } from "../helpers/mcp.js";
import {
  type GatewayProc,
  type Replica,
  sleep,
  startAll,
  startDualEra,
  startGateway,
  writeConfig,
} from "../helpers/procs.js";
import { openSse } from "../helpers/sse.js";
import { metricValue, waitFor } from "../helpers/wait.js";

interface Stats {
  seen: Record<string, number>;
  /** Calls of the `slow` tool whose request was gone when the replica looked (after each step). */
  abandoned: Array<{ tag: string; at: number; step: number }>;
}

async function stats(replica: Replica): Promise<Stats> {
  const res = await fetch(replica.url.replace(/\/mcp$/, "/stats"));
  return (await res.json()) as Stats;
}

async function seenTotal(replicas: Replica[], method: string): Promise<number> {
  const all = await Promise.all(replicas.map(stats));
  return all.reduce((n, s) => n + (s.seen[method] ?? 0), 0);
}

async function metric(gateway: GatewayProc, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gateway.base}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => (labels ? l.startsWith(`${name}{`) && l.includes(labels) : l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

describe("the modern protocol (2026-07-28) beside legacy sessions, on one route", () => {
  let replicas: Replica[];
  let gateway: GatewayProc;

  before(async () => {
    replicas = await startAll(["r1", "r2"].map((n) => startDualEra(n)));
    gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
upstreams:
  svc:
    replicas: [${replicas.map((r) => r.url).join(", ")}]
heartbeat:
  interval: 200ms
`),
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it("SDK v1 sessions keep their replica while SDK v2 modern clients are balanced freely, at the same time", async () => {
    const route = gateway.route("svc");
    const legacy = await Promise.all([1, 2, 3, 4].map(() => connect(route)));
    const modern = await Promise.all([1, 2, 3, 4].map(() => connectModern(route)));
    const owners: string[] = [];
    const modernReplicas = new Set<string>();
    for (let round = 1; round <= 5; round++) {
      const [old, now] = await Promise.all([
        Promise.all(legacy.map((s) => s.whoami())),
        Promise.all(
          modern.map(
            async (c) =>
              (await c.callTool({ name: "whoami", arguments: {} })).structuredContent as {
                replica: string;
                era: string;
              },
          ),
        ),
      ]);
      old.forEach((a, i) => {
        if (round === 1) owners[i] = a.replica;
        assert.equal(a.replica, owners[i], "a legacy session stays on its replica");
        assert.equal(a.sessionCalls, round);
      });
      for (const a of now) {
        assert.equal(a.era, "modern");
        modernReplicas.add(a.replica);
      }
    }
    assert.equal(modernReplicas.size, 2, "modern requests spread over both replicas");
    assert.equal(
      await metric(gateway, "switchyard_sessions_total", 'action="learned"'),
      4,
      "only the legacy sessions were stored; modern traffic has no session",
    );
    await Promise.all([...legacy.map((s) => s.close()), ...modern.map((c) => c.close())]);
  });

  it("forwards Mcp-Param-* headers, base64 form included, for the server to check", async () => {
    const client = await connectModern(gateway.route("svc"));
    for (const region of ["us-west1", "Zürich ", "=?base64?x?="]) {
      const r = await client.callTool({ name: "echo_region", arguments: { region } });
      const seen = JSON.parse((r.content as Array<{ text: string }>)[0]?.text as string);
      assert.equal(seen.region, region, "the server accepted header and body as matching");
      assert.ok(seen.header, "and saw the header");
    }
    await client.close();
  });

  it("aborts the upstream request when a client abandons a call (long before the call would end)", async () => {
    // `slow` takes 100 steps of 50 ms and records itself abandoned only if its request is gone before
    // the last one: the record appearing at all proves the abort reached the upstream (no bound in ms; a
    // gateway that kept the upstream request would let the call finish, unrecorded, after 5 s).
    const steps = 100;
    const abandoned = async (tag: string) => {
      let entry: Stats["abandoned"][number] | undefined;
      await waitFor(`the replica to see the "${tag}" call abandoned`, async () => {
        entry = (await Promise.all(replicas.map(stats))).flatMap((s) => s.abandoned).find((a) => a.tag === tag);
        return entry !== undefined;
      });
      return entry as Stats["abandoned"][number];
    };
    const client = await connectModern(gateway.route("svc"));
    const ac = new AbortController();
    let progress = 0;
    const call = client
      .callTool(
        { name: "slow", arguments: { steps, stepMs: 50, tag: "sdk-abort" } },
        { signal: ac.signal, onprogress: () => ++progress === 2 && ac.abort("user") },
      )
      .catch(() => "aborted");
    assert.equal(await call, "aborted");
    const seen = await abandoned("sdk-abort");
    assert.ok(seen.step < steps, `abandoned at step ${seen.step} of ${steps}`);
    await client.close();

    // The same with a bare connection that just goes away, once the call is under way upstream (its
    // first progress notification came back).
    const req = await new Promise<import("node:http").ClientRequest>((resolve, reject) => {
      const r = request(
        gateway.route("svc"),
        { method: "POST", headers: modernHeaders("tools/call", "slow") },
        (res) => {
          let text = "";
          res.on("error", () => {});
          res.on("data", (d: Buffer) => {
            text += d.toString();
            if (text.includes("notifications/progress")) resolve(r);
          });
          res.on("end", () => reject(new Error(`the call ended before any progress: ${text}`)));
        },
      );
      r.on("error", reject);
      r.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: {
            name: "slow",
            arguments: { steps, stepMs: 50, tag: "raw-abort" },
            _meta: { ...MODERN_META, progressToken: "raw" },
          },
        }),
      );
    });
    req.on("error", () => {});
    req.destroy();
    const raw = await abandoned("raw-abort");
    assert.ok(raw.step < steps, `a dropped connection aborts the upstream (at step ${raw.step} of ${steps})`);
  });

  it("passes subscriptions/listen through as a long-lived stream, with heartbeats between events", async () => {
    const listen = await openSse(gateway.route("svc"), {
      method: "POST",
      headers: modernHeaders("subscriptions/listen"),
      body: modernBody("subscriptions/listen", { notifications: { toolsListChanged: true } }, "listen-1"),
    });
    assert.equal(listen.res.statusCode, 200);
    const ack = await listen.next((e) => e.data.includes("notifications/subscriptions/acknowledged"));
    assert.ok(ack);
    // Quiet until the gateway has sent a heartbeat (200 ms interval); then an event.
    await waitFor("a heartbeat on the quiet listen stream", () => /:\n\n/.test(listen.raw()));
    await Promise.all(replicas.map((r) => fetch(r.url.replace(/\/mcp$/, "/notify"), { method: "POST" })));
    const changed = await listen.next((e) => e.data.includes("notifications/tools/list_changed"));
    assert.match(changed.data, /"io.modelcontextprotocol\/subscriptionId":"listen-1"/);
    assert.ok(/:\n\n/.test(listen.raw()), "heartbeat comments while quiet");
    assert.equal(await metric(gateway, "switchyard_streams_open", ""), 1, "counted as an open stream");
    listen.close();
  });
});

describe("the shared list cache", () => {
  let replica: Replica;
  let gateway: GatewayProc;

  before(async () => {
    replica = await startDualEra("cached");
    gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "warn"]);
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  it("answers many clients' tools/list from one upstream answer within its TTL", async () => {
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => connectModern(gateway.route("svc"))));
    const before = await seenTotal([replica], "tools/list");
    for (const c of clients) {
      const tools = await c.listTools();
      assert.ok(tools.tools.some((t) => t.name === "whoami"));
    }
    assert.equal((await seenTotal([replica], "tools/list")) - before, 1, "the upstream saw one tools/list");
    // tools/list's own counts: the clients' concurrent server/discover at connect may each have missed.
    assert.ok((await metric(gateway, "switchyard_cache_lookups_total", 'method="tools/list",result="hit"')) >= 4);
    assert.ok((await metric(gateway, "switchyard_cache_lookups_total", 'method="tools/list",result="miss"')) >= 1);
    await Promise.all(clients.map((c) => c.close()));
  });

  it("serves the request's own id and the remaining TTL; legacy requests never touch the cache", async () => {
    const ask = (id: number) =>
      rawRequest(gateway.route("svc"), {
        headers: modernHeaders("prompts/list"),
        body: modernBody("prompts/list", {}, id),
      });
    const startedAt = Date.now();
    await ask(1);
    const storedBy = Date.now(); // the answer was kept before its last byte went out
    await sleep(30); // time passing is what is under test: the TTL served must have gone down by as much
    const askedAt = Date.now();
    const hit = await ask(77);
    const answeredBy = Date.now();
    assert.equal(hit.headers["x-switchyard-cache"], "hit");
    const body = JSON.parse(hit.body.toString());
    assert.equal(body.id, 77);
    assert.equal(body.result.cacheScope, "public");
    // The replica said 60 s; kept at a moment within [startedAt, storedBy], served at one within
    // [askedAt, answeredBy]: what remains is bounded by the times measured around the two requests.
    const { ttlMs } = body.result as { ttlMs: number };
    const [least, most] = [60_000 - (answeredBy - startedAt), 60_000 - (askedAt - storedBy)];
    assert.ok(ttlMs >= least && ttlMs <= most, `remaining TTL ${ttlMs}, expected within [${least}, ${most}]`);
    assert.ok(body.result.prompts.some((p: { name: string }) => p.name === "greet"));

    const session = await connect(gateway.route("svc"));
    const before = await seenTotal([replica], "tools/list");
    await session.client.listTools();
    await session.client.listTools();
    assert.equal((await seenTotal([replica], "tools/list")) - before, 2, "legacy list requests all reach the upstream");
    await session.close();
  });

  it("keeps private answers per authorization context, and never across", async () => {
    const list = (auth?: string) =>
      rawRequest(gateway.route("svc"), {
        headers: { ...modernHeaders("resources/list"), ...(auth ? { authorization: auth } : {}) },
        body: modernBody("resources/list"),
      });
    const start = await seenTotal([replica], "resources/list");
    const alice = await list("Bearer alice");
    assert.equal(JSON.parse(alice.body.toString()).result.cacheScope, "private");
    await list("Bearer bob");
    assert.equal((await seenTotal([replica], "resources/list")) - start, 2, "bob does not get alice's answer");
    const again = await list("Bearer alice");
    assert.equal(again.headers["x-switchyard-cache"], "hit", "alice gets her own again");
    assert.equal((await seenTotal([replica], "resources/list")) - start, 2);
    await list();
    await list();
    assert.equal((await seenTotal([replica], "resources/list")) - start, 4, "no authorization context: not kept");
  });

  it("refuses routing headers that do not match the body (400, -32020) before answering from the cache", async () => {
    const before = await seenTotal([replica], "tools/list");
    for (const headers of [
      { ...modernHeaders("tools/list"), "mcp-method": "prompts/list" },
      { ...modernHeaders("tools/list"), "mcp-protocol-version": "2025-11-25" },
    ]) {
      const res = await rawRequest(gateway.route("svc"), { headers, body: modernBody("tools/list") });
      assert.equal(res.status, 400);
      assert.deepEqual(errorCode(res), { rpc: -32020, swy: "SWY_HEADER_MISMATCH" });
    }
    assert.equal(await seenTotal([replica], "tools/list"), before);
  });

  it("can be turned off", async () => {
    const plain = await startGateway([
      "--config",
      writeConfig(`logLevel: warn\ncache:\n  enabled: false\nupstreams:\n  svc:\n    replicas: [${replica.url}]\n`),
    ]);
    try {
      const before = await seenTotal([replica], "prompts/list");
      for (let i = 0; i < 3; i++) {
        await rawRequest(plain.route("svc"), {
          headers: modernHeaders("prompts/list"),
          body: modernBody("prompts/list"),
        });
      }
      assert.equal((await seenTotal([replica], "prompts/list")) - before, 3);
    } finally {
      await plain.stop();
    }
  });
});

describe("per-tool routing and stream limits", () => {
  let light: Replica;
  let heavy: Replica;
  let gateway: GatewayProc;

  before(async () => {
    [light, heavy] = (await startAll([startDualEra("light"), startDualEra("heavy")])) as [Replica, Replica];
    gateway = await startGateway([
      "--config",
      writeConfig(`logLevel: warn
limits:
  maxStreams: 2
upstreams:
  svc:
    replicas: [${light.url}]
    toolRoutes:
      slow: heavy
  heavy:
    replicas: [${heavy.url}]
`),
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all([light?.stop(), heavy?.stop()]);
  });

  it("sends a routed tool's modern calls to its own route, and the rest to the route's replicas", async () => {
    const client = await connectModern(gateway.route("svc"));
    const who = (await client.callTool({ name: "whoami", arguments: {} })).structuredContent as { replica: string };
    assert.equal(who.replica, "light");
    const slow = await client.callTool({ name: "slow", arguments: { steps: 1, stepMs: 1 } });
    assert.equal((slow.content as Array<{ text: string }>)[0]?.text, "done on heavy");
    await client.close();
    const mismatch = await rawRequest(gateway.route("svc"), {
      headers: modernHeaders("tools/call", "whoami"),
      body: modernBody("tools/call", { name: "slow", arguments: { steps: 1, stepMs: 1 } }),
    });
    assert.equal(mismatch.status, 400);
    assert.deepEqual(errorCode(mismatch), { rpc: -32020, swy: "SWY_HEADER_MISMATCH" });
    const session = await connect(gateway.route("svc"));
    const r = await session.client.callTool({ name: "slow", arguments: { steps: 1, stepMs: 1 } });
    assert.equal(
      (r.content as Array<{ text: string }>)[0]?.text,
      "done on light",
      "a legacy session's calls stay on it",
    );
    await session.close();
  });

  it("counts listen streams against limits.maxStreams: 503 past it, a slot again when one closes", async () => {
    const open = () =>
      openSse(gateway.route("svc"), {
        method: "POST",
        headers: modernHeaders("subscriptions/listen"),
        body: modernBody("subscriptions/listen", { notifications: { toolsListChanged: true } }),
      });
    const a = await open();
    const b = await open();
    const refused = await rawRequest(gateway.route("svc"), {
      headers: modernHeaders("subscriptions/listen"),
      body: modernBody("subscriptions/listen", { notifications: { toolsListChanged: true } }),
    });
    assert.equal(refused.status, 503);
    assert.equal(errorCode(refused).swy, "SWY_TOO_MANY_STREAMS");
    assert.ok(refused.headers["retry-after"]);
    const plain = await rawRequest(gateway.route("svc"), {
      headers: modernHeaders("tools/call", "whoami"),
      body: modernBody("tools/call", { name: "whoami", arguments: {} }),
    });
    assert.equal(plain.status, 200, "ordinary requests are not limited");
    a.close();
    await waitFor(
      "the closed stream's slot to be given back",
      async () => (await metricValue(`${gateway.base}/metrics`, "switchyard_streams_open")) === 1,
    );
    const c = await open();
    assert.equal(c.res.statusCode, 200);
    b.close();
    c.close();
  });
});
