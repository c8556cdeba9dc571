// `npm run bench` — Switchyard side by side with direct access, nginx, HAProxy and Node's own ceiling
// (node-bare, node-proxy), in one run.
// Options: --quick (about a minute), --tiny (seconds; what the test suite runs), --out DIR,
// --profile W1|W2|W6|W7|W8|W9 (only that workload, on a gateway under `node --cpu-prof`: the top functions;
// with --tiny, one second of it; with --traced, every request traced and exported), --only W1|W2|W6|W7|W8|W9|W10 [--rounds N] (Switchyard, its Node reference and
// nginx in interleaved rounds: the steady way to measure a change; --only TRACING: W1 with tracing off, on, 1 in 10; --only REDIS: W1 and W5 with the store on one Redis, Sentinel, a Cluster; --only WORKERS: W1, W6, W7, W8 with 1 and 2 workers beside nginx with 2 workers and HAProxy with 2 threads; --only RUNTIMES: W1 and W4 with the gateway on this Node and on Node 24).
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDns, ZONE } from "../test/helpers/dns.js";
import { startAuthServer } from "../test/helpers/oauth.js";
import { spawnManaged } from "../test/helpers/procs.js";
import { startRedis } from "../test/helpers/redis.js";
import { metricValue, waitFor } from "../test/helpers/wait.js";
import { churn } from "./lib/churn.js";
import type { Route } from "./lib/configs.js";
import { BENCH_ADMIN_TOKEN } from "./lib/configs.js";
import {
  type Contender,
  direct,
  startHaproxy,
  startNginxProxy,
  startReference,
  startStub,
  startSwitchyard,
} from "./lib/contenders.js";
import { eventLatency, percentile } from "./lib/event-latency.js";
import { haBench } from "./lib/ha.js";
import { hostBench } from "./lib/host.js";
import { idleStreams } from "./lib/idle-streams.js";
import { benchTenant, CALL_BODY, MCP_HEADERS, modernLoad, openSession } from "./lib/mcp.js";
import { compareRuntimes } from "./lib/runtimes.js";
import { compareWorkload, discardingCollector, profileWorkload, referenceTargetOf } from "./lib/single.js";
import { fileLimit, requireTools } from "./lib/system.js";
import { delta, fmt, ratio, table } from "./lib/table.js";
import { runWrk, type WrkResult } from "./lib/wrk.js";

const args = process.argv.slice(2);
const mode = args.includes("--tiny") ? "tiny" : args.includes("--quick") ? "quick" : "full";
const outArg = args.indexOf("--out");
const outDir = outArg >= 0 ? (args[outArg + 1] as string) : new URL("./results", import.meta.url).pathname;
const profileArg = args.indexOf("--profile");
const profiled = profileArg >= 0 ? (args[profileArg + 1] ?? "") : undefined;

const PLAN = {
  full: {
    warmSeconds: 1,
    callSeconds: 5,
    conns: [32, 256],
    sseSeconds: 6,
    latencySeconds: 5,
    idle: 10_000,
    hold: 6000,
    churnSeconds: 6,
  },
  quick: {
    warmSeconds: 1,
    callSeconds: 3,
    conns: [32],
    sseSeconds: 2,
    latencySeconds: 3,
    idle: 2000,
    hold: 3000,
    churnSeconds: 3,
  },
  tiny: {
    warmSeconds: 0,
    callSeconds: 1,
    conns: [8],
    sseSeconds: 1,
    latencySeconds: 1,
    idle: 100,
    hold: 1500,
    churnSeconds: 1,
  },
}[mode];

const log = (s: string) => process.stderr.write(`${s}\n`);

type Spec = Omit<Parameters<typeof runWrk>[2], "seconds">;

/**
 * Each load in turn (`[log line, row name, spec]`), `rounds` times, warmed in the first: each one's best
 * round. Alternating puts a slow moment of the host on all of them rather than on one.
 */
async function bestOfRounds(
  wrk: string,
  dir: string,
  loads: ReadonlyArray<readonly [string, string, Spec]>,
  rounds = 2,
): Promise<Record<string, WrkResult>> {
  const rows: Record<string, WrkResult> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [line, name, spec] of loads) {
      log(`${line} (round ${round + 1})`);
      if (PLAN.warmSeconds && round === 0) await runWrk(wrk, dir, { ...spec, seconds: PLAN.warmSeconds });
      const r = await runWrk(wrk, dir, { ...spec, seconds: PLAN.callSeconds });
      if (!rows[name] || r.rps > (rows[name] as WrkResult).rps) rows[name] = r;
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const tools = requireTools();
  const dir = mkdtempSync(join(tmpdir(), "swy-bench-"));

  // Upstreams: the nginx stub (answers at once), a real SDK server, and an SSE ticker.
  const { stub, stubPort } = await startStub(tools.nginx, dir);
  const { CLI } = await import("../test/helpers/procs.js");
  const sdk = spawnManaged(process.execPath, [CLI, "example-server", "--name", "sdk", "--exit-with-parent"]);
  const sdkUrl = new URL(JSON.parse(await sdk.waitForLine((l) => l.includes('"listening"'))).url);
  const ticker = spawnManaged(process.execPath, [
    "--import",
    "tsx",
    new URL("./upstreams/ticker.ts", import.meta.url).pathname,
  ]);
  const tickerUrl = new URL(JSON.parse(await ticker.waitForLine((l) => l.includes('"listening"'))).url);

  const routes: Route[] = [
    { name: "json", upstream: `127.0.0.1:${stubPort}` },
    { name: "sse", upstream: `127.0.0.1:${stubPort}` },
    { name: "churn", upstream: `127.0.0.1:${stubPort}` },
    { name: "modern", upstream: `127.0.0.1:${stubPort}` },
    { name: "list", upstream: `127.0.0.1:${stubPort}` },
    { name: "sdk", upstream: sdkUrl.host },
    { name: "ticker", upstream: tickerUrl.host },
  ];
  const heartbeat = mode === "full" ? "5s" : "1s";
  const redis = await startRedis();
  // A real DNS server: the DNS-discovered contender finds every upstream under this name.
  const dns = await startDns();
  const dnsName = `upstreams.${ZONE}`;
  await dns.set(dnsName, ["127.0.0.1"]);
  const contenders: Contender[] = [
    direct(routes),
    await startNginxProxy(tools.nginx, dir, routes),
    await startHaproxy(tools.haproxy, dir, routes),
    await startSwitchyard(dir, routes, heartbeat),
    await startSwitchyard(dir, routes, heartbeat, { redisUrl: redis.url }),
    await startSwitchyard(dir, routes, heartbeat, { tokenKey: randomBytes(32).toString("base64") }),
  ];
  // Node's own ceiling on the same stub: the references run beside the others in the workloads they fit.
  const nodeBare = await startReference("node-bare", dir, routes);
  const nodeProxy = await startReference("node-proxy", dir, routes);
  /** The contenders with a reference among them (after the proxies, before Switchyard's variants). */
  const withReference = (ref: Contender) => [...contenders.slice(0, 3), ref, ...contenders.slice(3)];
  const results: Record<string, unknown> = { mode, date: new Date().toISOString(), node: process.version };
  const sections: string[] = [
    `# Switchyard benchmark (${mode}, ${new Date().toISOString().slice(0, 16)}Z, Node ${process.version})`,
  ];
  const checks: string[] = [];

  try {
    // Workload 1: session-bound tools/call, small JSON answers (stub), and through a real SDK server.
    // The SDK server is the bottleneck behind every contender: one connection count shows it.
    const upstreams = ["json", "sdk"];
    for (const route of upstreams) {
      for (const conns of route === "sdk" ? PLAN.conns.slice(0, 1) : PLAN.conns) {
        const rows: Record<string, WrkResult> = {};
        for (const c of route === "json" ? withReference(nodeProxy) : contenders) {
          const sid = await openSession(c.url(route));
          log(`W1 ${route} c${conns} ${c.name}`);
          const load = {
            url: c.url(route),
            connections: conns,
            body: CALL_BODY,
            headers: { ...MCP_HEADERS, "mcp-session-id": sid },
            // The SDK server answers by id: concurrent requests of one session need their own.
            uniqueIds: route === "sdk",
          };
          // Every contender gets the same warm-up (Node's JIT needs one; nginx and HAProxy lose nothing).
          if (PLAN.warmSeconds) await runWrk(tools.wrk, dir, { ...load, seconds: PLAN.warmSeconds });
          rows[c.name] = await runWrk(tools.wrk, dir, { ...load, seconds: PLAN.callSeconds });
        }
        results[`w1-${route}-c${conns}`] = rows;
        sections.push(
          `## W1 session-bound tools/call — ${route === "json" ? "stub upstream" : "SDK server"}, ${conns} connections`,
          callTable(rows),
        );
        if (route === "json" && conns === 32) {
          const s = rows.switchyard as WrkResult;
          const d = rows.direct as WrkResult;
          const n = rows.nginx as WrkResult;
          checks.push(referenceTargetOf("w1", rows));
          checks.push(target("W1 throughput ≥ 0.5× nginx (the moonshot)", s.rps / n.rps >= 0.5, ratio(s.rps, n.rps)));
          checks.push(target("W1 added p50 ≤ 0.3 ms", s.p50 - d.p50 <= 0.3, `${delta(s.p50, d.p50)} ms`));
          checks.push(target("W1 added p99 ≤ 1 ms", s.p99 - d.p99 <= 1, `${delta(s.p99, d.p99)} ms`));
          const r = rows["switchyard+redis"] as WrkResult;
          checks.push(target("W1 Redis store ≥ 0.9× memory store", r.rps / s.rps >= 0.9, ratio(r.rps, s.rps)));
          const t = rows["switchyard+tokens"] as WrkResult;
          checks.push(target("W1 signed ids ≥ 0.9× memory store", t.rps / s.rps >= 0.9, ratio(t.rps, s.rps)));
        }
        // Errors the upstream makes by itself (the SDK server times out under 256 connections, direct too)
        // are not Switchyard's: it must add none.
        const swy = rows.switchyard as WrkResult;
        const own = route === "sdk" ? (rows.direct?.errors ?? 0) : 0;
        checks.push(
          target(
            `W1 ${route}, ${conns} connections: no errors added`,
            swy.errors <= own,
            `${swy.errors} (direct: ${own})`,
          ),
        );
      }
    }

    // Workload 6: the modern protocol (2026-07-28): stateless tools/call, no session, no store.
    // Workload 7: a cacheable tools/list (ttlMs, public): Switchyard answers it from its cache.
    for (const [key, title, route, load] of [
      [
        "w6",
        "W6 modern stateless tools/call (2026-07-28) — stub upstream, 32 connections",
        "modern",
        modernLoad("tools/call", "echo"),
      ],
      [
        "w7",
        "W7 modern tools/list with ttlMs/cacheScope public — stub upstream, 32 connections",
        "list",
        modernLoad("tools/list"),
      ],
    ] as const) {
      const rows: Record<string, WrkResult> = {};
      for (const c of withReference(key === "w7" ? nodeBare : nodeProxy)) {
        log(`${key.toUpperCase()} ${c.name}`);
        const spec = { url: c.url(route), connections: 32, ...load };
        if (PLAN.warmSeconds) await runWrk(tools.wrk, dir, { ...spec, seconds: PLAN.warmSeconds });
        rows[c.name] = await runWrk(tools.wrk, dir, { ...spec, seconds: PLAN.callSeconds });
      }
      results[key] = rows;
      sections.push(`## ${title}`, callTable(rows));
      const s = rows.switchyard as WrkResult;
      const d = rows.direct as WrkResult;
      const n = rows.nginx as WrkResult;
      if (key === "w6") {
        checks.push(referenceTargetOf("w6", rows));
        checks.push(target("W6 throughput ≥ 0.5× nginx", s.rps / n.rps >= 0.5, ratio(s.rps, n.rps)));
        checks.push(target("W6 added p50 ≤ 0.3 ms", s.p50 - d.p50 <= 0.3, `${delta(s.p50, d.p50)} ms`));
        checks.push(target("W6 added p99 ≤ 1 ms", s.p99 - d.p99 <= 1, `${delta(s.p99, d.p99)} ms`));
      } else {
        checks.push(referenceTargetOf("w7", rows));
        checks.push(target("W7 cached tools/list ≥ 1× nginx", s.rps / n.rps >= 1, ratio(s.rps, n.rps)));
      }
      checks.push(target(`${key.toUpperCase()} no errors`, s.errors === 0, String(s.errors)));
    }

    // Workloads 9 and 10: federation. A tools/call routed through a virtual server against the same call
    // on the plain route (W6), and a merged tools/list of three members answered from the cache against the
    // plain route's cached list (W7). Switchyard alone (no other contender has virtual servers), in
    // alternating rounds; each row's best round.
    {
      const swy = contenders.find((c) => c.name === "switchyard") as Contender;
      for (const [key, title, pair, goal] of [
        [
          "w9",
          "W9 modern tools/call through a virtual server (federation) vs the plain route — stub upstream, 32 connections",
          [
            ["plain route (W6)", swy.url("modern"), modernLoad("tools/call", "echo")],
            ["virtual server", swy.url("fed"), modernLoad("tools/call", "modern_echo")],
          ],
          0.8,
        ],
        [
          "w10",
          "W10 a merged tools/list of three members from the cache vs a plain route's cached list of the same tools — 32 connections",
          [
            ["plain route, the same 24 tools", swy.url("merged"), modernLoad("tools/list")],
            ["virtual server, 3 members", swy.url("lists"), modernLoad("tools/list")],
          ],
          1,
        ],
      ] as const) {
        const rows = await bestOfRounds(
          tools.wrk,
          dir,
          pair.map(([name, url, load]) => [`${key.toUpperCase()} ${name}`, name, { url, connections: 32, ...load }]),
        );
        results[key] = rows;
        sections.push(`## ${title}`, callTable(rows));
        const [plain, virtual] = pair.map(([name]) => rows[name] as WrkResult) as [WrkResult, WrkResult];
        checks.push(
          target(
            `${key.toUpperCase()} virtual server ≥ ${goal}× the plain route`,
            virtual.rps / plain.rps >= goal,
            ratio(virtual.rps, plain.rps),
          ),
        );
        checks.push(target(`${key.toUpperCase()} no errors`, virtual.errors === 0, String(virtual.errors)));
      }
    }

    // Workload 8: the W1 call on a tenant's server (`/bench/json/mcp`): key authentication, the tenant's
    // rate bucket (in Redis with the Redis store: one round trip per request) and session bookkeeping.
    {
      const rows: Record<string, WrkResult> = {};
      for (const c of withReference(nodeProxy)) {
        const tenant = c.name.startsWith("switchyard");
        const key = tenant ? await benchTenant(c.base as string, BENCH_ADMIN_TOKEN, routes[0]?.upstream as string) : "";
        const auth: Record<string, string> = tenant ? { authorization: `Bearer ${key}` } : {};
        const url = c.url(tenant ? "bench/json" : "json");
        const sid = await openSession(url, auth);
        log(`W8 ${c.name}`);
        const load = {
          url,
          connections: PLAN.conns[0] as number,
          body: CALL_BODY,
          headers: { ...MCP_HEADERS, ...auth, "mcp-session-id": sid },
        };
        if (PLAN.warmSeconds) await runWrk(tools.wrk, dir, { ...load, seconds: PLAN.warmSeconds });
        rows[c.name] = await runWrk(tools.wrk, dir, { ...load, seconds: PLAN.callSeconds });
      }
      results.w8 = rows;
      sections.push(
        `## W8 session-bound tools/call on a tenant's server (key, quotas) — stub upstream, ${PLAN.conns[0]} connections (direct, nginx, haproxy, node-proxy: the plain route)`,
        callTable(rows),
      );
      const w1 = (results[`w1-json-c${PLAN.conns[0]}`] as Record<string, WrkResult>).switchyard as WrkResult;
      const s = rows.switchyard as WrkResult;
      checks.push(referenceTargetOf("w8", rows));
      checks.push(
        target("W8 tenant's server ≥ 0.8× an operator route (W1)", s.rps / w1.rps >= 0.8, ratio(s.rps, w1.rps)),
      );
      checks.push(target("W8 no errors", s.errors === 0, String(s.errors)));
    }

    // W1 again, with the pool discovered in DNS (resolved beside the hot path), and with the configuration
    // reloaded every second (a route added, then removed) while the load runs.
    {
      const conns = PLAN.conns[0] as number;
      const w1 = results[`w1-json-c${conns}`] as Record<string, WrkResult>;
      const discovered = await startSwitchyard(dir, routes, heartbeat, { dns: { server: dns.address, name: dnsName } });
      const plain = contenders.find((c) => c.name === "switchyard") as Contender;
      const rows: Record<string, WrkResult> = { switchyard: w1.switchyard as WrkResult };
      const load = async (c: Contender) => {
        const sid = await openSession(c.url("json"));
        const spec = {
          url: c.url("json"),
          connections: conns,
          body: CALL_BODY,
          headers: { ...MCP_HEADERS, "mcp-session-id": sid },
        };
        if (PLAN.warmSeconds) await runWrk(tools.wrk, dir, { ...spec, seconds: PLAN.warmSeconds });
        return runWrk(tools.wrk, dir, { ...spec, seconds: PLAN.callSeconds });
      };
      // The discovered replica serves once it passed its first health check.
      await waitFor(
        "the DNS-discovered pool to serve",
        async () =>
          await openSession(discovered.url("json")).then(
            () => true,
            () => false,
          ),
      );
      log("W1 switchyard+dns");
      rows["switchyard+dns"] = await load(discovered);
      log("W1 switchyard, reload every 1 s");
      const file = plain.configFile as string;
      const text = readFileSync(file, "utf8");
      const applied = () => metricValue(`${plain.base}/metrics`, 'switchyard_config_reloads_total{outcome="applied"}');
      const before = await applied();
      let flips = 0;
      const timer = setInterval(() => {
        flips++;
        writeFileSync(
          file,
          flips % 2 === 1 ? `${text}  extra:\n    replicas: [http://${routes[0]?.upstream}/json/mcp]\n` : text,
        );
        plain.signal?.("SIGHUP");
      }, 1000);
      try {
        rows["switchyard, reload every 1 s"] = await load(plain);
      } finally {
        clearInterval(timer);
      }
      writeFileSync(file, text);
      plain.signal?.("SIGHUP");
      await discovered.stop();
      // Every flip, and the restore, applied (a reload that failed would never count).
      await waitFor("the reloads to be applied", async () => (await applied()) - before >= flips + 1, {
        timeoutMs: 10_000,
      }).catch(() => {});
      const reloads = (await applied()) - before - 1;
      results.w1Membership = { rows, reloads, flips };
      sections.push(
        `## Membership: W1 with the pool found in DNS, and with a reload every second — stub upstream, ${conns} connections (${reloads} reloads applied)`,
        callTable(rows),
      );
      const s = rows.switchyard as WrkResult;
      const d = rows["switchyard+dns"] as WrkResult;
      const r = rows["switchyard, reload every 1 s"] as WrkResult;
      checks.push(target("W1 DNS-discovered pool ≥ 0.9× a listed one", d.rps / s.rps >= 0.9, ratio(d.rps, s.rps)));
      checks.push(target("W1 DNS-discovered pool: no errors", d.errors === 0, String(d.errors)));
      checks.push(
        target(
          "W1 reload every second: no errors, every reload applied",
          r.errors === 0 && reloads >= flips,
          `${r.errors} errors, ${reloads} of ${flips} reloads`,
        ),
      );
    }

    // W1 on a protected route (`auth`): a valid JWT on every request, verified once, then by its hash.
    {
      const conns = PLAN.conns[0] as number;
      const w1 = results[`w1-json-c${conns}`] as Record<string, WrkResult>;
      const as = await startAuthServer();
      const publicUrl = "http://bench.gateway.test";
      const oauth = await startSwitchyard(dir, routes, heartbeat, { oauth: { issuer: as.issuer, publicUrl } });
      try {
        const token = await as.token(`${publicUrl}/json/mcp`, "mcp:read");
        const auth = { authorization: `Bearer ${token}` };
        const sid = await openSession(oauth.url("json"), auth);
        const spec = {
          url: oauth.url("json"),
          connections: conns,
          body: CALL_BODY,
          headers: { ...MCP_HEADERS, ...auth, "mcp-session-id": sid },
        };
        log("W1 switchyard+oauth");
        if (PLAN.warmSeconds) await runWrk(tools.wrk, dir, { ...spec, seconds: PLAN.warmSeconds });
        const rows: Record<string, WrkResult> = {
          switchyard: w1.switchyard as WrkResult,
          "switchyard+oauth": await runWrk(tools.wrk, dir, { ...spec, seconds: PLAN.callSeconds }),
        };
        results.w1OAuth = rows;
        sections.push(
          `## OAuth: W1 on a route with \`auth\` (a valid JWT on every request) — stub upstream, ${conns} connections`,
          callTable(rows),
        );
        const s = rows.switchyard as WrkResult;
        const o = rows["switchyard+oauth"] as WrkResult;
        checks.push(target("W1 with auth ≥ 0.9× without", o.rps / s.rps >= 0.9, ratio(o.rps, s.rps)));
        checks.push(target("W1 with auth: no errors", o.errors === 0, String(o.errors)));
      } finally {
        await oauth.stop();
        await as.stop();
      }
    }

    // W1 with OpenTelemetry: every request sampled (a SERVER and a CLIENT span each), exported by OTLP/HTTP
    // to a collector that takes and drops them; beside the same W1 with tracing off, in alternating rounds.
    {
      const conns = PLAN.conns[0] as number;
      const sink = await discardingCollector();
      const collector = sink.url;
      const traced = await startSwitchyard(dir, routes, heartbeat, { otlp: collector });
      const tenth = await startSwitchyard(dir, routes, heartbeat, { otlp: collector, otlpRatio: 0.1 });
      const off = contenders.find((c) => c.name === "switchyard") as Contender;
      try {
        const loads: Array<[string, string, Spec]> = [];
        for (const [c, name] of [
          [off, "switchyard (tracing off)"],
          [traced, "switchyard+tracing (every request sampled)"],
          [tenth, "switchyard+tracing (1 in 10 sampled)"],
        ] as const) {
          const sid = await openSession(c.url("json"));
          const headers = { ...MCP_HEADERS, "mcp-session-id": sid };
          loads.push([`W1 ${name}`, name, { url: c.url("json"), connections: conns, body: CALL_BODY, headers }]);
        }
        const rows = await bestOfRounds(tools.wrk, dir, loads);
        results.w1Tracing = rows;
        sections.push(
          `## OpenTelemetry: W1 with every request traced and exported (OTLP/HTTP) vs tracing off — stub upstream, ${conns} connections, best of 2 alternating rounds`,
          callTable(rows),
        );
        const o = rows["switchyard (tracing off)"] as WrkResult;
        const t = rows["switchyard+tracing (every request sampled)"] as WrkResult;
        checks.push(target("W1 every request traced ≥ 0.85× tracing off", t.rps / o.rps >= 0.85, ratio(t.rps, o.rps)));
        checks.push(target("W1 traced: no errors", t.errors === 0, String(t.errors)));
      } finally {
        await tenth.stop();
        await traced.stop();
        sink.close();
      }
    }

    // Workload 2: POSTs answered with a short SSE stream (3 events).
    {
      const rows: Record<string, WrkResult> = {};
      for (const c of withReference(nodeProxy)) {
        const sid = await openSession(c.url("sse"));
        log(`W2 ${c.name}`);
        rows[c.name] = await runWrk(tools.wrk, dir, {
          url: c.url("sse"),
          connections: 32,
          seconds: PLAN.sseSeconds,
          body: CALL_BODY,
          headers: { ...MCP_HEADERS, "mcp-session-id": sid },
        });
      }
      results.w2 = rows;
      sections.push("## W2 POST answered with a 3-event SSE stream — stub upstream, 32 connections", callTable(rows));
      const swy = rows.switchyard as WrkResult;
      checks.push(referenceTargetOf("w2", rows));
      checks.push(target("W2 no errors", swy.errors === 0, String(swy.errors)));
    }

    // Workload 3: event delivery latency on open SSE streams.
    {
      const rows: Array<Array<string | number>> = [];
      const raw: Record<string, unknown> = {};
      let directP50 = Number.NaN;
      let directP99 = Number.NaN;
      for (const c of contenders) {
        log(`W3 ${c.name}`);
        const r = await eventLatency(c.url("ticker"), 16, PLAN.latencySeconds, 10);
        const p50 = percentile(r.delays, 50);
        const p99 = percentile(r.delays, 99);
        if (c.name === "direct") {
          directP50 = p50;
          directP99 = p99;
        }
        raw[c.name] = { events: r.events, p50, p99, merged: r.merged, late: r.late, errors: r.errors };
        rows.push([
          c.name,
          r.events,
          p50,
          p99,
          delta(p50, directP50),
          delta(p99, directP99),
          r.merged,
          r.late,
          r.errors,
        ]);
        if (c.name === "switchyard") {
          checks.push(target("W3 added p99 ≤ 1 ms", p99 - directP99 <= 1, `${delta(p99, directP99)} ms`));
          checks.push(
            target("W3 no event merged or late", r.merged === 0 && r.late === 0, `${r.merged} merged, ${r.late} late`),
          );
        }
      }
      results.w3 = raw;
      sections.push(
        "## W3 event delivery delay — 16 streams, one event every 10 ms (ms)",
        table(
          ["contender", "events", "p50", "p99", "+p50 vs direct", "+p99 vs direct", "merged", "late", "errors"],
          rows,
        ),
      );
    }

    // Workload 5: session churn.
    {
      const raw: Record<string, { cycles: number; rate: number; errors: number }> = {};
      for (const c of contenders) {
        log(`W5 ${c.name}`);
        const r = await churn(c.url("churn"), 16, PLAN.churnSeconds);
        raw[c.name] = r;
        if (c.name === "switchyard") checks.push(target("W5 no errors", r.errors === 0, String(r.errors)));
      }
      const rows = Object.entries(raw).map(([name, r]) => [
        name,
        r.rate,
        ratio(r.rate, raw.nginx?.rate),
        ratio(r.rate, raw.direct?.rate),
        r.errors,
      ]);
      results.w5 = raw;
      sections.push(
        "## W5 session churn — initialize → tools/call → DELETE, 16 concurrent loops, stub upstream",
        table(["contender", "cycles/s", "× nginx", "× direct", "errors"], rows),
      );
    }
    // Workload H: switchyard/ha — one forward hop, and adoption after a replica's death.
    {
      log("H switchyard/ha");
      const ha = await haBench(tools.wrk, dir, redis.url, PLAN.callSeconds, sdkUrl.href);
      results.ha = ha;
      const owner = ha.calls["at its owner, 1 conn"] as WrkResult;
      const hop = ha.calls["one hop away, 1 conn"] as WrkResult;
      const worst = Math.max(...ha.adoptionMs);
      sections.push(
        "## H switchyard/ha — a session's tools/call at its owner and one hop away (1 and 4 connections); adoption after the owner is killed",
        `${table(
          ["call", "req/s", "p50 ms", "p99 ms", "+p50 vs owner"],
          Object.entries(ha.calls).map(([name, r]) => {
            const base = ha.calls[`at its owner, ${name.endsWith("4 conn") ? 4 : 1} conn`] as WrkResult;
            return [name, r.rps, r.p50, r.p99, delta(r.p50, base.p50)];
          }),
        )}\n\nAdoption, first request to its answer (ms): ${ha.adoptionMs.map((m) => fmt(m, 1)).join(", ")}.`,
      );
      checks.push(
        target(
          "H forward hop added p50 ≤ 0.5 ms (1 connection)",
          hop.p50 - owner.p50 <= 0.5,
          `${delta(hop.p50, owner.p50)} ms`,
        ),
      );
      checks.push(target("H adoption < 1 s from the first request", worst < 1000, `${fmt(worst, 1)} ms at worst`));
    }

    // HOST: `switchyard host` against the same server's own HTTP transport (server-everything): a new
    // session's wait for its initialize answer, with and without the spare process; a session's call.
    {
      log("HOST switchyard host");
      const hb = await hostBench(tools.wrk, dir, {
        seconds: PLAN.callSeconds,
        warmSeconds: PLAN.warmSeconds,
        sessions: mode === "tiny" ? 1 : mode === "quick" ? 3 : 8,
        // Sessions a second apart (the spare starts again meanwhile); the tiny run only checks that it runs.
        pauseMs: mode === "tiny" ? 0 : 1000,
      });
      results.host = hb;
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
      const direct = hb.calls["its own HTTP transport"] as WrkResult;
      const hosted = hb.calls["host, a spare process ready"] as WrkResult;
      sections.push(
        "## HOST switchyard host — server-everything over stdio behind host vs its own Streamable HTTP transport",
        `${table(
          ["new session", "initialize answered, median ms", "slowest ms", "sessions"],
          Object.entries(hb.startupMs).map(([name, ms]) => [
            name,
            fmt(med(ms), 1),
            fmt(Math.max(...ms), 1),
            String(ms.length),
          ]),
        )}\n\n${table(
          ["a session's tools/call (echo), 8 connections", "req/s", "p50 ms", "p99 ms", "× its own HTTP", "errors"],
          Object.entries(hb.calls).map(([name, r]) => [
            name,
            r.rps,
            r.p50,
            r.p99,
            ratio(r.rps, direct.rps),
            String(r.errors),
          ]),
        )}`,
      );
      checks.push(target("HOST no errors", hosted.errors === 0, String(hosted.errors)));
    }

    // Workload 4: many idle SSE streams held open. Last, because a proxy that misses clients leaving
    // idle streams (HAProxy) keeps them open, and its descriptors with them.
    {
      // Each stream holds two descriptors in a proxy (client and upstream side): stay under the limit.
      const n = Math.min(PLAN.idle, Math.floor((fileLimit() - 200) / 2));
      const rows: Array<Array<string | number>> = [];
      const raw: Record<string, unknown> = {};
      for (const c of contenders) {
        // Idle streams cost the same with either store: the memory store's figure is the one that counts.
        if (c.pid === undefined || (c.name !== "switchyard" && c.name.startsWith("switchyard"))) continue;
        log(`W4 ${c.name} (${n} streams)`);
        const r = await idleStreams(c.url("ticker"), n, PLAN.hold, c.pid);
        raw[c.name] = r;
        rows.push([
          c.name,
          r.opened,
          r.dropped,
          fmt(r.rssPerStream / 1024, 1),
          r.fds,
          c.name === "switchyard" ? `${r.withHeartbeat}/${r.opened}` : "n/a",
          r.leftOpen,
        ]);
        if (c.name === "switchyard") {
          checks.push(
            target("W4 ≤ 16 KiB per idle stream", r.rssPerStream <= 16 * 1024, `${fmt(r.rssPerStream / 1024, 1)} KiB`),
          );
          checks.push(
            target(
              "W4 no stream dropped",
              r.dropped === 0 && r.opened === n,
              `${r.opened}/${n} open, ${r.dropped} dropped`,
            ),
          );
          checks.push(target("W4 heartbeats flowing", r.withHeartbeat === r.opened, `${r.withHeartbeat}/${r.opened}`));
          checks.push(target("W4 streams released when clients leave", r.leftOpen < 20, `${r.leftOpen} fds left`));
        }
      }
      results.w4 = raw;
      const note =
        n < PLAN.idle
          ? `\n\n${n} streams, not ${PLAN.idle}: a proxy holds two descriptors per stream and this machine's open-file limit is ${fileLimit()}.`
          : "";
      sections.push(
        `## W4 idle SSE streams held open — ${n} streams, heartbeat every ${heartbeat}`,
        table(
          ["contender", "open", "dropped", "RSS KiB/stream", "fds", "heartbeats", "fds left 5 s after clients left"],
          rows,
        ) + note,
      );
    }
  } catch (err) {
    for (const c of contenders) if (c.stderr()) log(`--- ${c.name} stderr:\n${c.stderr().slice(-3000)}`);
    throw err;
  } finally {
    for (const c of [...contenders, nodeBare, nodeProxy]) await c.stop();
    await Promise.all([stub.stop(), sdk.stop(), ticker.stop(), redis.stop(), dns.stop()]);
  }

  sections.push("## Targets (Switchyard, one process, memory store)", checks.map((c) => `- ${c}`).join("\n"));
  const markdown = `${sections.join("\n\n")}\n`;
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(outDir, `bench-${mode}-${stamp}.json`), JSON.stringify({ ...results, checks }, null, 2));
  writeFileSync(join(outDir, `bench-${mode}-${stamp}.md`), markdown);
  process.stdout.write(markdown);
}

/** A workload's rows, with each one's ratio to nginx, to Node's reference (when it ran) and to direct. */
function callTable(rows: Record<string, WrkResult>): string {
  const d = rows.direct;
  const n = rows.nginx;
  const refName = rows["node-bare"] ? "node-bare" : rows["node-proxy"] ? "node-proxy" : undefined;
  const ref = refName === undefined ? undefined : rows[refName];
  return table(
    [
      "contender",
      "req/s",
      "p50 ms",
      "p99 ms",
      "+p50 vs direct",
      "+p99 vs direct",
      "× nginx",
      ...(refName ? [`× ${refName}`] : []),
      "× direct",
      "errors",
    ],
    Object.entries(rows).map(([name, r]) => [
      name,
      r.rps,
      r.p50,
      r.p99,
      delta(r.p50, d?.p50),
      delta(r.p99, d?.p99),
      ratio(r.rps, n?.rps),
      ...(ref ? [ratio(r.rps, ref.rps)] : []),
      ratio(r.rps, d?.rps),
      r.errors,
    ]),
  );
}

function target(name: string, ok: boolean, value: string): string {
  return `${ok ? "PASS" : "MISS"} ${name}: ${value}`;
}

async function single(): Promise<void> {
  const only = args.indexOf("--only");
  const roundsArg = args.indexOf("--rounds");
  const rounds = roundsArg >= 0 ? Number(args[roundsArg + 1]) : mode === "tiny" ? 1 : 5;
  const seconds = mode === "tiny" ? 1 : mode === "quick" ? 2 : 4;
  const markdown =
    profiled !== undefined
      ? await profileWorkload(profiled, mode === "tiny", args.includes("--traced"))
      : /^runtimes$/i.test(args[only + 1] ?? "")
        ? await compareRuntimes(rounds, seconds, { streams: Math.min(PLAN.idle, 5000), holdMs: PLAN.hold })
        : await compareWorkload(args[only + 1] ?? "", rounds, seconds);
  process.stdout.write(markdown);
}

(profiled !== undefined || args.includes("--only") ? single() : main()).catch((err) => {
  const cause = (err as Error).cause as Error | undefined;
  process.stderr.write(`bench: ${(err as Error).message}${cause ? ` (${cause.message})` : ""}\n`);
  process.exit(1);
});
