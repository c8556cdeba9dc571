import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { hash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dnsConfig, startPods } from "../helpers/discovery.js";
import { type DnsServer, startDns, ZONE } from "../helpers/dns.js";
import { alive, STDIO_FIXTURE } from "../helpers/host.js";
import { answerTo, errorCode, type RawResponse, rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type GatewayProc,
  owned,
  type Replica,
  sleep,
  startGateway,
  startReplica,
  svcConfig,
  writeConfig,
} from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { openSse, type SseStream } from "../helpers/sse.js";
import { ADMIN, bearer, initialize, tenantGateway } from "../helpers/tenants.js";
import { waitFor } from "../helpers/wait.js";

/** Each request on a connection of its own: the primary hands connections to the workers in turn. */
const apart = { connection: "close" };

/** The request lines a gateway logged: which worker (and pid) served which session. */
function served(g: GatewayProc): Array<{ worker: number; pid: number; session?: string; status: number }> {
  return g.lines
    .filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l) as { worker: number; pid: number; session?: string; status: number })
    .filter((l) => l.worker !== undefined); // not the lines of a `switchyard host` the primary runs
}

async function open(g: GatewayProc): Promise<{ id: string; replica: string }> {
  const init = await rawRequest(g.route("svc"), {
    headers: { ...MCP_HEADERS, ...apart },
    body: JSON.stringify(INIT_BODY),
  });
  assert.equal(init.status, 200, init.body.toString());
  const id = String(init.headers["mcp-session-id"]);
  return { id, replica: await whoami(g, id) };
}

async function whoami(g: GatewayProc, id: string): Promise<string> {
  const res = await rawRequest(g.route("svc"), {
    headers: { ...sessionHeaders(id), ...apart },
    body: rpc("tools/call", { name: "whoami", arguments: {} }),
  });
  assert.equal(res.status, 200, res.body.toString());
  const content = answerTo(res, 1).result?.structuredContent as { replica: string };
  return content.replica;
}

describe("switchyard serve --workers 2: one gateway, however many processes", () => {
  let replicas: Replica[];
  let gateway: GatewayProc;
  before(async () => {
    replicas = await Promise.all(["r1", "r2"].map((n) => startReplica(n)));
    gateway = await startGateway(["--config", svcConfig(replicas), "--workers", "2", "--log-level", "info"]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it("routes a session created through one worker from the other, to the replica that created it (memory store)", async () => {
    const sessions = await Promise.all(Array.from({ length: 6 }, () => open(gateway)));
    for (const s of sessions) {
      for (let i = 0; i < 4; i++) assert.equal(await whoami(gateway, s.id), s.replica, "its own replica, every time");
    }
    const lines = served(gateway);
    assert.equal(new Set(lines.map((l) => l.worker)).size, 2, "both workers served");
    const byWorkers = new Map<string, Set<number>>();
    for (const l of lines) {
      if (l.session) byWorkers.set(l.session, (byWorkers.get(l.session) ?? new Set()).add(l.worker));
    }
    const crossed = [...byWorkers.values()].filter((w) => w.size === 2).length;
    assert.ok(crossed >= 4, `sessions served by both workers: ${crossed} of ${byWorkers.size}`);
  });

  it("restarts a worker killed with kill -9; the sessions it served go on", async () => {
    const s = await open(gateway);
    const victim = served(gateway).at(-1) as { worker: number; pid: number };
    process.kill(victim.pid, "SIGKILL");
    await gateway.waitForLine((l) => l.includes('"worker exited"') && l.includes(`"worker":${victim.worker}`));
    await waitFor("the worker to serve again, in a new process", async () => {
      // A connection handed to the worker as it died is never answered: given up on after 2 s.
      await Promise.race([whoami(gateway, s.id), sleep(2000)]);
      return served(gateway).some((l) => l.worker === victim.worker && l.pid !== victim.pid);
    });
    for (let i = 0; i < 4; i++) assert.equal(await whoami(gateway, s.id), s.replica);
  });

  it("a worker killed under load: every request one outcome, none on a wrong replica, no session lost", async () => {
    const sessions = await Promise.all(Array.from({ length: 8 }, () => open(gateway)));
    type Result = { at: number; outcome: "ok" | "wrong-replica" | "lost" | "refused" | "network" | "timeout" };
    const results: Result[] = [];
    let stop = false;
    const loops = sessions.map(async (s) => {
      while (!stop) {
        const at = Date.now();
        // Each call on a connection of its own: the primary hands them to both workers in turn.
        const outcome = await Promise.race([
          rawRequest(gateway.route("svc"), {
            headers: { ...sessionHeaders(s.id), ...apart },
            body: rpc("tools/call", { name: "whoami", arguments: {} }),
          }).then(
            (res): Result["outcome"] => {
              if (res.status === 404) return "lost";
              if (res.status !== 200) return "refused";
              const content = answerTo(res, 1).result?.structuredContent as { replica: string };
              return content.replica === s.replica ? "ok" : "wrong-replica";
            },
            (): Result["outcome"] => "network",
          ),
          sleep(3000).then((): Result["outcome"] => "timeout"),
        ]);
        results.push({ at, outcome });
      }
    });
    await sleep(1000);
    const victim = served(gateway).at(-1) as { worker: number; pid: number };
    const killedAt = Date.now();
    const known = new Set(served(gateway).map((l) => l.pid));
    process.kill(victim.pid, "SIGKILL");
    await waitFor("the worker to serve again, in a new process", async () =>
      served(gateway).some((l) => l.worker === victim.worker && !known.has(l.pid) && l.status === 200),
    );
    const back = Date.now();
    await sleep(1000);
    stop = true;
    await Promise.all(loops);
    const count = (o: Result["outcome"], from = 0, to = Number.POSITIVE_INFINITY) =>
      results.filter((r) => r.outcome === o && r.at >= from && r.at < to).length;
    process.stdout.write(
      `# ${results.length} calls: ${count("ok")} ok, ${count("network")} cut, ${count("timeout")} unanswered in 3 s\n`,
    );
    assert.equal(count("wrong-replica"), 0, "no call reached another replica");
    assert.equal(count("lost"), 0, "no session lost: the store is the primary's");
    assert.equal(count("refused"), 0);
    // Only the calls in flight on the killed worker (or handed to it as it died) failed.
    const failed = results.filter((r) => r.outcome !== "ok");
    for (const f of failed)
      assert.ok(f.at >= killedAt - 3000 && f.at <= back, `a ${f.outcome} at +${f.at - killedAt} ms`);
    assert.ok(count("ok", back) > 50, `served after the restart: ${count("ok", back)}`);
  });

  it("stops every worker and itself on SIGTERM, with exit code 0", async () => {
    const g = await startGateway(["--config", svcConfig(replicas), "--workers", "2"]);
    await open(g);
    const workers = execFileSync("pgrep", ["-P", String(g.child.pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
    assert.equal(workers.length, 2, "two worker processes");
    assert.equal(await g.stop("SIGTERM"), 0);
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
  });
});

describe("switchyard serve --workers 2 with signed session ids", () => {
  let replicas: Replica[];
  let gateway: GatewayProc;
  before(async () => {
    replicas = await Promise.all(["r1"].map((n) => startReplica(n)));
    const tokens = `affinity: token\ntokens:\n  keys: [{ id: 1, secret: ${randomBytes(32).toString("base64")} }]\n`;
    gateway = await startGateway(["--config", svcConfig(replicas, tokens), "--workers", "2"]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it("a session deleted through one worker is refused by every worker at once", async () => {
    const s = await open(gateway);
    const deleted = await rawRequest(gateway.route("svc"), {
      method: "DELETE",
      headers: { ...sessionHeaders(s.id), ...apart },
    });
    assert.equal(deleted.status, 200);
    for (let i = 0; i < 4; i++) {
      const res = await rawRequest(gateway.route("svc"), {
        headers: { ...sessionHeaders(s.id), ...apart },
        body: rpc("tools/list"),
      });
      assert.equal(res.status, 404);
      assert.equal(errorCode(res).swy, "SWY_SESSION_NOT_FOUND", "refused by the gateway itself");
    }
  });
});

describe("switchyard serve --workers 2: replica health is one view, checked once", () => {
  let replicas: ExampleReplica[];
  let gateway: GatewayProc;
  before(async () => {
    replicas = await Promise.all(["r1", "r2"].map((n) => startReplica(n)));
    const health = "health:\n  interval: 200ms\n  timeout: 300ms\n  unhealthyThreshold: 1\n";
    gateway = await startGateway(["--config", svcConfig(replicas, health), "--workers", "2"]);
  });
  after(async () => {
    for (const r of replicas ?? []) r.child.kill("SIGCONT");
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it("runs the active checks in one worker only", async () => {
    const before = (await (replicas[0] as ExampleReplica).seen()).userAgents["switchyard-health"] ?? 0;
    await sleep(2000); // checks every 200 ms: about 10 from one checker, 20 if both workers checked
    const probes = ((await (replicas[0] as ExampleReplica).seen()).userAgents["switchyard-health"] ?? 0) - before;
    assert.ok(probes >= 5 && probes <= 14, `${probes} probes in 2 s`);
  });

  it("a replica one worker sees hang is down in every worker at once: its sessions get 404, none waits on it", async () => {
    let onR2: { id: string; replica: string } | undefined;
    while (!onR2) {
      const s = await open(gateway);
      if (s.replica === "r2") onR2 = s;
    }
    const r2 = replicas[1] as ExampleReplica;
    r2.child.kill("SIGSTOP"); // hung: only the leader's checks (timeout 300 ms) can tell; a request would wait
    await waitFor("the checks to mark it down", async () =>
      gateway.lines.some((l) => l.includes('"replica down"') && l.includes(r2.url)),
    );
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      const res: RawResponse | undefined = await Promise.race([
        rawRequest(gateway.route("svc"), {
          headers: { ...sessionHeaders(onR2.id), ...apart },
          body: rpc("tools/list"),
        }),
        sleep(3000).then(() => undefined),
      ]);
      assert.ok(res, "answered at once, not held on the hung replica");
      assert.equal(res.status, 404, `request ${i}`);
      assert.ok(Date.now() - started < 1000);
    }
    // New sessions, through both workers: none is sent to the hung replica (a worker that did not know
    // would pick it for every other one, and wait on it).
    for (let i = 0; i < 6; i++) {
      const s = await Promise.race([open(gateway), sleep(3000).then(() => undefined)]);
      assert.equal(s?.replica, "r1", `new session ${i} on the replica that answers`);
    }
    r2.child.kill("SIGCONT");
  });
});

describe("switchyard serve --workers 2: /metrics shows the whole gateway", () => {
  let replicas: Replica[];
  let gateway: GatewayProc;
  before(async () => {
    replicas = await Promise.all(["r1"].map((n) => startReplica(n)));
    gateway = await startGateway(["--config", svcConfig(replicas), "--workers", "2", "--log-level", "info"]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  /** The sum of a metric's samples whose labels include `route="svc"`. */
  const total = (text: string, name: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`${name}{`) && l.includes('route="svc"'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);

  it("counts every request, whichever worker answered it, in any worker's scrape", async () => {
    const sessions = await Promise.all(Array.from({ length: 5 }, () => open(gateway))); // 2 requests each
    for (const s of sessions) for (let i = 0; i < 3; i++) await whoami(gateway, s.id);
    const sent = 5 * 2 + 5 * 3;
    assert.equal(new Set(served(gateway).map((l) => l.worker)).size, 2, "both workers answered");
    for (let scrape = 0; scrape < 4; scrape++) {
      const res = await rawRequest(`${gateway.base}/metrics`, { method: "GET", headers: apart });
      assert.equal(res.status, 200);
      const text = res.body.toString();
      assert.equal(total(text, "switchyard_requests_total"), sent, "the requests of both workers, summed");
      assert.equal(total(text, "switchyard_request_duration_seconds_count"), sent, "histograms merged");
      assert.match(text, /^switchyard_sessions_active 5$/m, "the shared store's sessions, counted once");
    }
  });
});

describe("switchyard serve --workers 2: the admin API's overview is the whole gateway's", () => {
  let replicas: Replica[];
  let gateway: GatewayProc;
  before(async () => {
    replicas = await Promise.all(["r1"].map((n) => startReplica(n)));
    gateway = await startGateway([
      "--config",
      svcConfig(replicas),
      "--workers",
      "2",
      "--log-level",
      "info",
      "--admin-token",
      ADMIN,
    ]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it("counts the requests of both workers in the route's traffic, whichever worker answers", async () => {
    await Promise.all(Array.from({ length: 5 }, () => open(gateway))); // 2 requests each
    assert.equal(new Set(served(gateway).map((l) => l.worker)).size, 2, "both workers answered");
    for (let ask = 0; ask < 4; ask++) {
      const res = await rawRequest(`${gateway.base}/admin/v1/overview`, {
        method: "GET",
        headers: { authorization: `Bearer ${ADMIN}`, ...apart },
      });
      assert.equal(res.status, 200);
      const view = JSON.parse(res.body.toString()) as {
        routes: Array<{ name: string; traffic: Array<{ requests: number }>; replicas: Array<{ healthy: boolean }> }>;
        sessions: number;
      };
      const svc = view.routes.find((r) => r.name === "svc");
      assert.equal(
        svc?.traffic.reduce((n, b) => n + b.requests, 0),
        10,
        "both workers' requests, summed",
      );
      assert.deepEqual(
        svc?.replicas.map((r) => r.healthy),
        [true],
      );
      assert.equal(view.sessions, 5, "the shared store's sessions");
    }
  });

  it("lists the sessions of both workers, and a session revoked through one is refused by both", async () => {
    const admin = (method: string, path: string) =>
      rawRequest(`${gateway.base}/admin/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...apart },
      });
    const mine = await Promise.all(Array.from({ length: 4 }, () => open(gateway)));
    const listed = JSON.parse((await admin("GET", "/sessions?route=svc")).body.toString()) as {
      sessions: Array<{ id: string }>;
    };
    const names = new Set(listed.sessions.map((s) => s.id));
    for (const s of mine) assert.ok(names.has(hash("sha256", s.id, "base64url")), "every worker's session listed");
    const [victim, other] = mine as [{ id: string; replica: string }, { id: string; replica: string }];
    const revoked = await admin("DELETE", `/sessions/svc/${hash("sha256", victim.id, "base64url")}`);
    assert.equal(revoked.status, 200, revoked.body.toString());
    // Asked on fresh connections: both workers answer in turn.
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        rawRequest(gateway.route("svc"), { headers: { ...sessionHeaders(victim.id), ...apart }, body: rpc("ping") }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(6).fill(404),
    );
    const refusals = () => served(gateway).filter((l) => l.status === 404);
    await waitFor("the refusals logged", () => refusals().length >= 6);
    assert.equal(new Set(refusals().map((l) => l.worker)).size, 2, "both workers refused it");
    assert.ok((await whoami(gateway, other.id)).length > 0, "the others are served");
  });
});

describe("switchyard serve --workers 2 with the Redis store, and reloads", () => {
  let redis: RedisServer;
  let replicas: Replica[];
  let gateway: GatewayProc;
  let file: string;
  before(async () => {
    redis = await startRedis();
    replicas = await Promise.all(["r1", "r2"].map((n) => startReplica(n)));
    file = svcConfig(replicas, `store:\n  url: ${redis.url}\n`);
    gateway = await startGateway(["--config", file, "--workers", "2", "--log-level", "info"]);
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await redis?.stop();
  });

  it("routes sessions across workers through Redis, each to its own replica", async () => {
    const sessions = await Promise.all(Array.from({ length: 4 }, () => open(gateway)));
    for (const s of sessions) for (let i = 0; i < 3; i++) assert.equal(await whoami(gateway, s.id), s.replica);
    assert.equal(new Set(served(gateway).map((l) => l.worker)).size, 2);
  });

  it("passes SIGHUP on: every worker serves a route added to the file", async () => {
    const extra = `  extra:\n    replicas: [${(replicas[0] as Replica).url}]\n`;
    writeFileSync(file, readFileSync(file, "utf8").replace("\nstore:", `\n${extra}store:`));
    gateway.child.kill("SIGHUP");
    await waitFor("both workers to serve the new route", async () => {
      const codes = await Promise.all(
        [1, 2, 3, 4].map(() =>
          rawRequest(`${gateway.base}/extra/mcp`, {
            headers: { ...MCP_HEADERS, ...apart },
            body: JSON.stringify(INIT_BODY),
          }).then((r) => r.status),
        ),
      );
      return codes.every((c) => c === 200);
    });
  });
});

describe("switchyard serve --workers 2: limits mean the whole gateway", () => {
  let replicas: Replica[];
  const gateways: GatewayProc[] = [];
  const streams: SseStream[] = [];
  let redis: RedisServer;
  before(async () => {
    replicas = await Promise.all(["r1"].map((n) => startReplica(n)));
  });
  after(async () => {
    for (const s of streams) s.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await redis?.stop();
  });

  /** A diagnostic stream, idle for a minute: it holds a stream slot (and a diagnostic one). */
  async function diagnostic(g: GatewayProc): Promise<SseStream> {
    const s = await openSse(`${g.base}/.switchyard/diagnostics/stream?events=1&every=10&idle=60000`);
    streams.push(s);
    assert.equal(s.res.statusCode, 200);
    await s.next((e) => e.event === "headers");
    return s;
  }

  /** `n` attempts, each on a connection of its own (so both workers answer some): their status and code. */
  async function attempts(g: GatewayProc, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      // One that opens ends at once (no idle period).
      const res = await rawRequest(`${g.base}/.switchyard/diagnostics/stream?events=1&every=10&idle=0`, {
        method: "GET",
        headers: { accept: "text/event-stream", ...apart },
      });
      out.push(`${res.status} ${res.status === 200 ? "" : errorCode(res).swy}`);
    }
    return out;
  }

  /** The workers that refused a stream (503), from the request log. */
  const refusedBy = (g: GatewayProc) =>
    new Set(
      served(g)
        .filter((l) => l.status === 503)
        .map((l) => l.worker),
    );

  it("limits.maxStreams: the streams of both workers count; one closing makes room", async () => {
    const limits = "limits:\n  maxStreams: 3\ndiagnostics:\n  enabled: true\n";
    const g = await startGateway(["--config", svcConfig(replicas, limits), "--workers", "2", "--log-level", "info"]);
    gateways.push(g);
    const held = [await diagnostic(g), await diagnostic(g), await diagnostic(g)];
    const refused = await attempts(g, 6);
    assert.deepEqual(refused, Array(6).fill("503 SWY_TOO_MANY_STREAMS"), "no worker opens a fourth");
    await waitFor("both workers' refusals in the log", async () => refusedBy(g).size === 2);
    (held[0] as SseStream).close();
    await waitFor("a slot free again", async () => (await attempts(g, 1))[0] === "200 ", { timeoutMs: 5000 });
  });

  it("the diagnostic streams: at most 4 for the gateway, not 4 per worker", async () => {
    const g = await startGateway([
      "--config",
      svcConfig(replicas, "diagnostics:\n  enabled: true\n"),
      "--workers",
      "2",
      "--log-level",
      "info",
    ]);
    gateways.push(g);
    for (let i = 0; i < 4; i++) await diagnostic(g);
    assert.deepEqual(await attempts(g, 6), Array(6).fill("503 SWY_TOO_MANY_STREAMS"));
    await waitFor("both workers' refusals in the log", async () => refusedBy(g).size === 2);
  });

  it("a tenant's streams quota counts its streams in every worker (Redis store)", async () => {
    redis = await startRedis();
    const gw = await tenantGateway(`store:\n  url: ${redis.url}\n`, undefined, ["--workers", "2"]);
    gateways.push(gw.gateway);
    const key = await gw.tenant("acme", { quotas: { streams: 2 } });
    await gw.server("acme", "s1", (replicas[0] as Replica).url);
    const url = `${gw.gateway.base}/acme/s1/mcp`;
    /** A new session's GET stream, on a connection of its own: its status (and code when refused). */
    const stream = async (): Promise<string> => {
      const init = await initialize(url, { ...bearer(key), ...apart });
      assert.equal(init.status, 200, init.body.toString());
      const headers = {
        ...sessionHeaders(String(init.headers["mcp-session-id"])),
        ...bearer(key),
        accept: "text/event-stream",
      };
      const s = await openSse(url, { headers });
      streams.push(s);
      if (s.res.statusCode === 200) return "200";
      await s.ended;
      const body = s.raw();
      return `${s.res.statusCode} ${(JSON.parse(body) as { error: { data: { code: string } } }).error.data.code}`;
    };
    assert.deepEqual([await stream(), await stream()], ["200", "200"]);
    assert.deepEqual(
      [await stream(), await stream(), await stream(), await stream()],
      Array(4).fill("429 SWY_TENANT_STREAMS_EXCEEDED"),
    );
    assert.equal(
      new Set(
        served(gw.gateway)
          .filter((l) => l.status === 429)
          .map((l) => l.worker),
      ).size,
      2,
    );
  });
});

describe("switchyard serve --workers 2: replicas discovered in DNS join and drain in every worker at once", () => {
  const procs = owned();
  let gateway: GatewayProc;
  const NAME = `tickets.${ZONE}`;
  let dns: DnsServer;
  let port: number;
  before(async () => {
    dns = await procs.own(startDns());
    let pods: ExampleReplica[];
    ({ port, pods } = await startPods(["p2", "p3"], ["127.0.0.2", "127.0.0.3"]));
    for (const p of pods) procs.own(p);
    await dns.set(NAME, ["127.0.0.2", "127.0.0.3"]);
    // Each worker resolves every 10 s, on its own timer.
    const config = dnsConfig(dns, [`dns+http://${NAME}:${port}/mcp`], { resolver: "  interval: 10s\n" });
    gateway = await procs.own(startGateway(["--config", config, "--workers", "2", "--log-level", "info"]));
  });
  after(() => procs.stopAll());

  /** When each worker logged the replica at `address` draining. */
  const drained = (address: string) =>
    gateway.lines
      .filter((l) => l.includes('"msg":"replica draining"') && l.includes(`${address}:${port}`))
      .map((l) => JSON.parse(l) as { worker: number; time: string })
      .map((l) => ({ worker: l.worker, at: Date.parse(l.time) }));

  it("a replica that left the DNS answer drains in both workers at once, though their timers differ", async () => {
    await waitFor("both pods serving", async () => {
      const homes = new Set((await Promise.all(Array.from({ length: 6 }, () => open(gateway)))).map((s) => s.replica));
      return homes.size === 2;
    });
    // Restart worker 1 five seconds into the period: its resolutions now come ~5 s apart from worker 2's.
    await sleep(5000);
    const victim = served(gateway).find((l) => l.worker === 1) as { pid: number };
    process.kill(victim.pid, "SIGKILL");
    await waitFor("worker 1 to serve again", async () => {
      // A connection the primary handed to worker 1 as it died is never answered (Node's round-robin
      // hand-off has no failure path; docs/workers.md): given up on after 2 s, as a client would.
      await Promise.race([open(gateway), sleep(2000)]);
      return served(gateway).some((l) => l.worker === 1 && l.pid !== victim.pid);
    });
    let onP3: { id: string; replica: string } | undefined;
    for (let i = 0; i < 40 && !onP3; i++) {
      const s = await open(gateway);
      if (s.replica === "p3") onP3 = s;
    }
    assert.ok(onP3, "a session on p3");
    await dns.set(NAME, ["127.0.0.2"]);
    await waitFor("a worker to see p3 leave the answer", async () => drained("127.0.0.3").length > 0, {
      timeoutMs: 15_000,
    });
    // From now on no new session goes to p3, whichever worker takes it.
    const fresh = await Promise.all(Array.from({ length: 8 }, () => open(gateway)));
    assert.deepEqual(
      fresh.map((s) => s.replica),
      fresh.map(() => "p2"),
      "new sessions only on the replica still in DNS",
    );
    const seen = drained("127.0.0.3");
    assert.deepEqual(new Set(seen.map((d) => d.worker)), new Set([1, 2]), "both workers drain it");
    const gap = Math.abs((seen[0]?.at ?? 0) - (seen[1]?.at ?? 0));
    assert.ok(gap < 1500, `the second worker ${gap} ms after the first`);
    // Draining, not gone: its session still works through both workers.
    for (let i = 0; i < 4; i++) assert.equal(await whoami(gateway, onP3.id), "p3");
    // A worker that starts now (p3 is in no answer it will resolve) is told p3 drains: its session goes on.
    const known = new Set(served(gateway).map((l) => l.pid));
    const second = served(gateway).findLast((l) => l.worker === 2) as { pid: number };
    process.kill(second.pid, "SIGKILL");
    await waitFor("worker 2 to serve again", async () => {
      await Promise.race([open(gateway), sleep(2000)]);
      return served(gateway).some((l) => l.worker === 2 && !known.has(l.pid));
    });
    const from = served(gateway).length;
    for (let i = 0; i < 6; i++) assert.equal(await whoami(gateway, onP3.id), "p3", `call ${i} after the restart`);
    assert.equal(
      new Set(
        served(gateway)
          .slice(from)
          .map((l) => l.worker),
      ).size,
      2,
      "through both workers",
    );
  });
});

describe("switchyard serve --workers 2: tenants on the embedded store, held by the primary", () => {
  let replica: Replica;
  let gw: Awaited<ReturnType<typeof tenantGateway>>;
  before(async () => {
    replica = await startReplica("r1");
    gw = await tenantGateway("", undefined, ["--workers", "2"]);
  });
  after(async () => {
    await gw?.gateway.stop();
    await replica?.stop();
  });

  const url = (tenant: string) => `${gw.gateway.base}/${tenant}/s1/mcp`;
  /** An initialize with the tenant's key on a connection of its own: its status and code. */
  const init = async (tenant: string, key: string) => {
    const res = await initialize(url(tenant), { ...bearer(key), ...apart });
    return res.status === 200 ? "200" : `${res.status} ${errorCode(res).swy}`;
  };

  it("a tenant, key and server created through one worker serve through both; the primary writes them to disk", async () => {
    const key = await gw.tenant("acme");
    await gw.server("acme", "s1", replica.url);
    const codes = await Promise.all(Array.from({ length: 6 }, () => init("acme", key)));
    assert.deepEqual(codes, Array(6).fill("200"));
    const saved = JSON.parse(readFileSync(join(gw.dataDir, "tenants.json"), "utf8")) as { tenants: object };
    assert.ok("acme" in saved.tenants, "in admin.dataDir/tenants.json");
    // A key revoked through one worker is refused by both at once.
    const keys = (await gw.admin("GET", "/tenants/acme/keys")).json() as { keys: Array<{ id: string }> };
    for (const k of keys.keys) assert.equal((await gw.admin("DELETE", `/tenants/acme/keys/${k.id}`)).status, 204);
    const refused = await Promise.all(Array.from({ length: 4 }, () => init("acme", key)));
    assert.deepEqual(refused, Array(4).fill("401 SWY_UNAUTHORIZED"));
  });

  it("a tenant's sessions and rate quotas count its requests in every worker", async () => {
    const key = await gw.tenant("small", { quotas: { sessions: 2 } });
    await gw.server("small", "s1", replica.url);
    assert.deepEqual([await init("small", key), await init("small", key)], ["200", "200"]);
    const over = await Promise.all(Array.from({ length: 4 }, () => init("small", key)));
    assert.deepEqual(over, Array(4).fill("429 SWY_TENANT_SESSIONS_EXCEEDED"), "no worker opens a third");

    const fast = await gw.tenant("fast", { quotas: { rps: 1, burst: 4 } });
    await gw.server("fast", "s1", replica.url);
    const started = performance.now();
    const burst = await Promise.all(Array.from({ length: 12 }, () => init("fast", fast)));
    const seconds = (performance.now() - started) / 1000;
    const passed = burst.filter((c) => c === "200").length;
    // One bucket of 4 for the gateway (two of 4 would let 8 through), refilled 1 a second.
    assert.ok(passed <= 4 + Math.ceil(seconds), `${passed} of 12 passed in ${seconds.toFixed(2)} s`);
    assert.ok(burst.filter((c) => c === "429 SWY_RATE_LIMITED").length >= 12 - passed);
    const refusedBy = new Set(
      served(gw.gateway)
        .filter((l) => l.status === 429)
        .map((l) => l.worker),
    );
    assert.equal(refusedBy.size, 2, "both workers refused some");
  });
});

describe("switchyard serve --workers 2: a route with `command` runs one host for the gateway", () => {
  it("every worker reaches the primary's one host: a session's calls count on, whichever worker takes them", async () => {
    const file = writeConfig(`logLevel: info
upstreams:
  counter:
    command: ${process.execPath}
    args: [${STDIO_FIXTURE}]
    host: { pool: 1, maxProcesses: 4 }
`);
    const gateway = await startGateway(["--config", file, "--workers", "2"]);
    let pids: number[] = [];
    try {
      const init = await rawRequest(gateway.route("counter"), {
        headers: { ...MCP_HEADERS, ...apart },
        body: JSON.stringify(INIT_BODY),
      });
      assert.equal(init.status, 200, init.body.toString());
      const sid = String(init.headers["mcp-session-id"]);
      const call = async (name: string) => {
        const res = await rawRequest(gateway.route("counter"), {
          headers: { ...sessionHeaders(sid), ...apart },
          body: rpc("tools/call", { name, arguments: {} }),
        });
        assert.equal(res.status, 200, res.body.toString());
        return answerTo(res, 1).result?.structuredContent as { calls: number; pid: number };
      };
      const counts: number[] = [];
      for (let i = 0; i < 6; i++) counts.push((await call("count")).calls);
      assert.deepEqual(counts, [1, 2, 3, 4, 5, 6], "one server process holds the session, for both workers");
      assert.equal(new Set(served(gateway).map((l) => l.worker)).size, 2, "both workers served");
      pids = [(await call("whoami")).pid];
      // Its log lines reach the gateway's log (the primary's), tagged with the route.
      await waitFor("a host line in the gateway's log", () =>
        gateway.lines.some((l) => l.includes('"host":"counter"')),
      );
    } finally {
      assert.equal(await gateway.stop(), 0);
    }
    for (const pid of pids) await waitFor(`process ${pid} ended with the gateway`, () => !alive(pid));
  });
});
