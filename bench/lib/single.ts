import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEPLOYMENTS, startDeployment } from "../../test/helpers/redis-topologies.js";
import { churn } from "./churn.js";
import { BENCH_ADMIN_TOKEN, type Route } from "./configs.js";
import {
  type Contender,
  startHaproxy,
  startNginxProxy,
  startReference,
  startStub,
  startSwitchyard,
} from "./contenders.js";
import { benchTenant, CALL_BODY, MCP_HEADERS, modernLoad, openSession } from "./mcp.js";
import { summariseProfile } from "./profile.js";
import { cpuSeconds, requireTools, treeCpuSeconds } from "./system.js";
import { fmt, ratio, table } from "./table.js";
import { runWrk, type WrkResult } from "./wrk.js";

/**
 * One workload alone, on the stub upstream at 32 connections: under the CPU profiler (`--profile W`), or
 * Switchyard beside its reference and nginx in interleaved rounds (`--only W`), which measures a change far
 * more steadily than the full run's one pass per contender.
 */
const SINGLE_WORKLOADS = ["w1", "w2", "w6", "w7", "w8"] as const;
type Workload = (typeof SINGLE_WORKLOADS)[number];

/** What each workload's target compares Switchyard with (issue 21), in the full run and alone. */
const TARGETS: Record<Workload, { reference: "node-bare" | "node-proxy"; ratio: number }> = {
  w1: { reference: "node-proxy", ratio: 0.85 },
  w2: { reference: "node-proxy", ratio: 0.8 },
  w6: { reference: "node-proxy", ratio: 0.85 },
  w7: { reference: "node-bare", ratio: 0.8 },
  w8: { reference: "node-proxy", ratio: 0.8 },
};

/** The workload's target line: `PASS W1 ≥ 0.85× node-proxy: 0.81×` (or MISS). */
export function referenceTarget(w: Workload, switchyardRps: number, referenceRps: number): string {
  const t = TARGETS[w];
  const ok = switchyardRps / referenceRps >= t.ratio;
  return `${ok ? "PASS" : "MISS"} ${w.toUpperCase()} ≥ ${t.ratio}× ${t.reference}: ${ratio(switchyardRps, referenceRps)}`;
}

/** The same, from a run's rows (`switchyard` and the workload's reference). */
export function referenceTargetOf(w: Workload, rows: Record<string, WrkResult>): string {
  return referenceTarget(w, rows.switchyard?.rps ?? 0, rows[TARGETS[w].reference]?.rps ?? Number.NaN);
}

type Load = { url: string; body: string; headers: Record<string, string>; connections: number };

export function workload(name: string): Workload {
  const w = name.toLowerCase();
  if (!(SINGLE_WORKLOADS as readonly string[]).includes(w)) {
    throw new Error(`takes one of ${SINGLE_WORKLOADS.join(", ").toUpperCase()}, not ${name}`);
  }
  return w as Workload;
}

/** The workload's requests through `c` (a tenant's server on Switchyard for W8, the plain route elsewhere). */
async function loadThrough(w: Workload, c: Contender, upstream: string): Promise<Load> {
  const session = async (route: string, extra: Record<string, string> = {}) => {
    const sid = await openSession(c.url(route), extra);
    return { url: c.url(route), body: CALL_BODY, headers: { ...MCP_HEADERS, ...extra, "mcp-session-id": sid } };
  };
  const spec =
    w === "w1"
      ? await session("json")
      : w === "w2"
        ? await session("sse")
        : w === "w6"
          ? { url: c.url("modern"), ...modernLoad("tools/call", "echo") }
          : w === "w7"
            ? { url: c.url("list"), ...modernLoad("tools/list") }
            : c.name.startsWith("switchyard")
              ? await session("bench/json", {
                  authorization: `Bearer ${await benchTenant(c.base as string, BENCH_ADMIN_TOKEN, upstream)}`,
                })
              : await session("json");
  return { ...spec, connections: 32 };
}

/** `w` through each contender in interleaved rounds: req/s, errors, and the CPU of the process `pidOf` names. */
export async function workloadRounds(
  w: Workload,
  contenders: Contender[],
  env: { wrk: string; dir: string; upstream: string },
  rounds: number,
  seconds: number,
  pidOf: (c: Contender) => number | undefined,
) {
  const loads = await Promise.all(contenders.map((c) => loadThrough(w, c, env.upstream)));
  return interleaved(
    env.wrk,
    env.dir,
    contenders.map((c, i) => ({ label: `${w.toUpperCase()} ${c.name}`, load: loads[i] as Load, pid: pidOf(c) })),
    rounds,
    seconds,
  );
}

/** The nginx stub and its routes, for `run`; everything stopped afterwards. */
export async function withStub<T>(
  run: (env: { wrk: string; nginx: string; dir: string; upstream: string; routes: Route[] }) => Promise<T>,
): Promise<T> {
  const tools = requireTools();
  const dir = mkdtempSync(join(tmpdir(), "swy-bench-one-"));
  const { stub, stubPort } = await startStub(tools.nginx, dir);
  try {
    const upstream = `127.0.0.1:${stubPort}`;
    const routes = ["json", "sse", "modern", "list"].map((name) => ({ name, upstream }));
    return await run({ wrk: tools.wrk, nginx: tools.nginx, dir, upstream, routes });
  } finally {
    await stub.stop();
  }
}

/** `--profile W`: the workload through a gateway under `node --cpu-prof`; the summary as Markdown. */
export function profileWorkload(name: string, tiny: boolean, traced = false): Promise<string> {
  const virtual = name.toLowerCase() === "w9";
  const w = virtual ? "w9" : workload(name);
  return withStub(async ({ wrk, dir, upstream, routes }) => {
    const profDir = join(dir, "cpuprofile");
    // `--traced`: every request traced and exported (OTLP/HTTP) to a collector that drops what it gets.
    const sink = traced ? await discardingCollector() : undefined;
    const gateway = await startSwitchyard(dir, routes, "15s", {
      nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profDir}`],
      ...(sink ? { otlp: sink.url } : {}),
    });
    let result: WrkResult;
    try {
      const load =
        w === "w9"
          ? { url: gateway.url("fed"), ...modernLoad("tools/call", "modern_echo"), connections: 32 }
          : await loadThrough(w, gateway, upstream);
      const seconds = tiny ? 1 : 10;
      await runWrk(wrk, dir, { ...load, seconds: tiny ? 1 : 2 });
      process.stderr.write(`${w.toUpperCase()} under the profiler, ${seconds} s\n`);
      result = await runWrk(wrk, dir, { ...load, seconds });
    } finally {
      await gateway.stop();
      sink?.close();
    }
    return `# Profile of ${w.toUpperCase()} (32 connections, stub upstream; ${fmt(result.rps)} req/s under the profiler)

${summariseProfile(profDir)}

The profile: ${profDir}
`;
  });
}

/** A process's CPU time per request, in µs: `12.3 + 20.1`; `–` where it is not measured (nginx runs in a worker). */
function perRequest(c: { user: number; sys: number; requests: number }): string {
  if (c.requests === 0) return "–";
  const us = (s: number) => fmt((1e6 * s) / c.requests, 1);
  return `${us(c.user)} + ${us(c.sys)}`;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * A table row per contender of interleaved rounds: its rounds, their median, the median's ratio to each
 * of `against` (medians of the same run), its CPU per request ("–" where not measured), its errors.
 */
export function roundRows(
  names: string[],
  run: { rps: number[][]; errors: number[]; cpu: Cpu[] },
  against: number[],
): Array<Array<string | number>> {
  return names.map((name, i) => {
    const m = median(run.rps[i] as number[]);
    return [
      name,
      (run.rps[i] as number[]).map((r) => fmt(r)).join(" / "),
      m,
      ...against.map((a) => ratio(m, a)),
      perRequest(run.cpu[i] as Cpu),
      String(run.errors[i]),
    ];
  });
}

type Cpu = { user: number; sys: number; requests: number };

/**
 * `rounds` rounds of `seconds` of each load in turn (so that a slow moment of the host falls on all);
 * each load's req/s per round, errors, and the CPU its process (`pids[i]`, if measured) spent per request.
 */
async function interleaved(
  wrk: string,
  dir: string,
  loads: Array<{ label: string; load: Load; pid: number | undefined }>,
  rounds: number,
  seconds: number,
): Promise<{ rps: number[][]; errors: number[]; cpu: Cpu[] }> {
  // Every load warmed first (Node's JIT needs it; nginx and HAProxy lose nothing by it).
  for (const { label, load } of loads) {
    process.stderr.write(`${label}: warm-up\n`);
    await runWrk(wrk, dir, { ...load, seconds: Math.min(2, seconds) });
  }
  const rps = loads.map(() => [] as number[]);
  const errors = loads.map(() => 0);
  const cpu = loads.map(() => ({ user: 0, sys: 0, requests: 0 }));
  for (let round = 1; round <= rounds; round++) {
    for (const [i, { label, load, pid }] of loads.entries()) {
      process.stderr.write(`round ${round}/${rounds} ${label}\n`);
      const before = pid === undefined ? undefined : treeCpuSeconds(pid);
      const r = await runWrk(wrk, dir, { ...load, seconds });
      rps[i]?.push(r.rps);
      if (before && pid !== undefined) {
        const after = treeCpuSeconds(pid);
        const total = cpu[i] as Cpu;
        total.user += after.user - before.user;
        total.sys += after.sys - before.sys;
        total.requests += r.requests;
      }
      errors[i] = (errors[i] ?? 0) + r.errors;
    }
  }
  return { rps, errors, cpu };
}

/**
 * `--only W`: Switchyard, its reference and nginx, each warmed, then `rounds` rounds of `seconds` in turn
 * (so that a slow moment of the host falls on all of them); the median of each, and the workload's target.
 */
export function compareWorkload(name: string, rounds: number, seconds: number): Promise<string> {
  if (/^w(9|10)$/i.test(name)) return compareVirtual(name.toLowerCase() as "w9" | "w10", rounds, seconds);
  if (/^tracing$/i.test(name)) return compareTracing(rounds, seconds);
  if (/^redis$/i.test(name)) return compareRedis(rounds, seconds);
  if (/^workers$/i.test(name)) return compareWorkers(rounds, seconds);
  const w = workload(name);
  const target = TARGETS[w];
  return withStub(async ({ wrk, nginx, dir, upstream, routes }) => {
    const contenders = [
      await startReference(target.reference, dir, routes),
      await startNginxProxy(nginx, dir, routes),
      await startSwitchyard(dir, routes, "15s"),
    ];
    try {
      // CPU time of each contender's process per request it answered (nginx: its master, not its worker: none).
      const { rps, errors, cpu } = await workloadRounds(w, contenders, { wrk, dir, upstream }, rounds, seconds, (c) =>
        c.name === "nginx" ? undefined : c.pid,
      );
      const [ref, ngx, swy] = rps.map(median) as [number, number, number];
      const rows = roundRows(
        contenders.map((c) => c.name),
        { rps, errors, cpu },
        [ref, ngx],
      );
      return `# ${w.toUpperCase()} alone — stub upstream, 32 connections, ${rounds} rounds of ${seconds} s in turn

${table(["contender", "req/s per round", "median req/s", `× ${target.reference}`, "× nginx", "CPU µs/req user + sys", "errors"], rows)}

- ${referenceTarget(w, swy, ref)}
- ${errors[2] === 0 ? "PASS" : "MISS"} ${w.toUpperCase()} no errors: ${errors[2]}
`;
    } finally {
      for (const c of contenders) await c.stop();
    }
  });
}

/**
 * `--only W9|W10` (federation): one Switchyard, the plain route's load and the virtual server's in turn;
 * the CPU column is the gateway's time per request of each load (one process serves both, one at a time).
 */
function compareVirtual(w: "w9" | "w10", rounds: number, seconds: number): Promise<string> {
  const goal = w === "w9" ? 0.8 : 1;
  return withStub(async ({ wrk, dir, routes }) => {
    const gateway = await startSwitchyard(dir, routes, "15s");
    try {
      const pair: [string, Load][] =
        w === "w9"
          ? [
              [
                "plain route (W6)",
                { url: gateway.url("modern"), ...modernLoad("tools/call", "echo"), connections: 32 },
              ],
              [
                "virtual server",
                { url: gateway.url("fed"), ...modernLoad("tools/call", "modern_echo"), connections: 32 },
              ],
            ]
          : [
              ["plain route, 24 tools", { url: gateway.url("merged"), ...modernLoad("tools/list"), connections: 32 }],
              [
                "virtual server, 3 members",
                { url: gateway.url("lists"), ...modernLoad("tools/list"), connections: 32 },
              ],
            ];
      const { rps, errors, cpu } = await interleaved(
        wrk,
        dir,
        pair.map(([name, load]) => ({ label: `${w.toUpperCase()} ${name}`, load, pid: gateway.pid })),
        rounds,
        seconds,
      );
      const medians = rps.map(median) as [number, number];
      const rows = pair.map(([name], i) => [
        name,
        (rps[i] as number[]).map((r) => fmt(r)).join(" / "),
        medians[i] as number,
        ratio(medians[i] as number, medians[0]),
        perRequest(cpu[i] as Cpu),
        String(errors[i]),
      ]);
      const ok = medians[1] / medians[0] >= goal;
      return `# ${w.toUpperCase()} alone — stub upstream, 32 connections, ${rounds} rounds of ${seconds} s in turn

${table(["load", "req/s per round", "median req/s", "× plain route", "CPU µs/req user + sys", "errors"], rows)}

- ${ok ? "PASS" : "MISS"} ${w.toUpperCase()} virtual server ≥ ${goal}× the plain route: ${ratio(medians[1], medians[0])}
- ${errors[1] === 0 ? "PASS" : "MISS"} ${w.toUpperCase()} no errors: ${errors[1]}
`;
    } finally {
      await gateway.stop();
    }
  });
}

/** An OTLP/HTTP collector that takes everything and keeps nothing. */
export async function discardingCollector(): Promise<{ url: string; close(): void }> {
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`, close: () => sink.close() };
}

/**
 * `--only TRACING`: W1 through three gateways in turn — tracing off, every request traced, 1 in 10 —
 * each exporting by OTLP/HTTP to a collector that drops what it gets; medians, and CPU per request.
 */
/**
 * `--only WORKERS`: W1, W6, W7 and W8 through Switchyard with one worker and with two, beside nginx with
 * two worker processes and HAProxy with two threads, in interleaved rounds; the CPU column counts a
 * gateway's primary and its workers together. W8 (a tenant's server) asks the primary for the tenant's
 * rate on every request under --workers; nginx and HAProxy carry the plain route there.
 */
function compareWorkers(rounds: number, seconds: number): Promise<string> {
  return withStub(async ({ wrk, nginx, dir, upstream, routes }) => {
    const tools = requireTools();
    const contenders = [
      await startSwitchyard(dir, routes, "15s", { label: "switchyard" }),
      await startSwitchyard(dir, routes, "15s", { workers: 2, label: "switchyard-2w" }),
      await startNginxProxy(nginx, dir, routes, 2),
      await startHaproxy(tools.haproxy, dir, routes, 2),
    ];
    const sections: string[] = [];
    try {
      for (const w of ["w1", "w6", "w7", "w8"] as const) {
        const { rps, errors, cpu } = await workloadRounds(
          w,
          contenders,
          { wrk, dir, upstream },
          rounds,
          seconds,
          (c) => (c.name.startsWith("switchyard") ? c.pid : undefined),
        );
        const [one, two, ngx] = rps.map(median) as [number, number, number];
        const rows = roundRows(
          contenders.map((c) => c.name),
          { rps, errors, cpu },
          [ngx, one],
        );
        sections.push(`## ${w.toUpperCase()} — stub upstream, 32 connections

${table(["contender", "req/s per round", "median req/s", "× nginx-2w", "× switchyard (1 worker)", "CPU µs/req user + sys", "errors"], rows)}

- Scaling from 1 to 2 workers: ${ratio(two, one)}`);
      }
      return `# Every core: --workers 2 beside nginx (2 workers) and HAProxy (2 threads) — ${rounds} rounds of ${seconds} s in turn

${sections.join("\n\n")}
`;
    } finally {
      for (const c of contenders) await c.stop();
    }
  });
}

/**
 * `--only REDIS`: W1 (a session's calls) and W5 (session churn) through three gateways whose store is one
 * redis-server, Sentinel (a primary, two replicas, three sentinels) and a Cluster (three primaries with a
 * replica each), in interleaved rounds.
 */
function compareRedis(rounds: number, seconds: number): Promise<string> {
  return withStub(async ({ wrk, dir, upstream, routes }) => {
    const kinds = DEPLOYMENTS;
    const deployments = [];
    for (const kind of kinds) deployments.push(await startDeployment(kind));
    const all = [...routes, { name: "churn", upstream }];
    const gateways = [];
    for (const [i, d] of deployments.entries()) {
      gateways.push(await startSwitchyard(dir, all, "15s", { storeYaml: d.storeYaml, label: `redis-${kinds[i]}` }));
    }
    try {
      const loads = await Promise.all(gateways.map((g) => loadThrough("w1", g, upstream)));
      const w1 = await interleaved(
        wrk,
        dir,
        gateways.map((g, i) => ({ label: `W1 ${kinds[i]}`, load: loads[i] as Load, pid: g.pid })),
        rounds,
        seconds,
      );
      const w5 = kinds.map(() => ({ rates: [] as number[], errors: 0, cpu: { user: 0, sys: 0, requests: 0 } }));
      for (let round = 1; round <= rounds; round++) {
        for (const [i, g] of gateways.entries()) {
          process.stderr.write(`round ${round}/${rounds} W5 ${kinds[i]}\n`);
          const before = cpuSeconds(g.pid as number);
          const r = await churn(g.url("churn"), 16, seconds);
          const after = cpuSeconds(g.pid as number);
          const row = w5[i] as (typeof w5)[number];
          row.rates.push(r.rate);
          row.errors += r.errors;
          row.cpu.user += after.user - before.user;
          row.cpu.sys += after.sys - before.sys;
          row.cpu.requests += r.cycles;
        }
      }
      const w1Medians = w1.rps.map(median);
      const w5Medians = w5.map((r) => median(r.rates));
      const w1Rows = kinds.map((k, i) => [
        k,
        (w1.rps[i] as number[]).map((r) => fmt(r)).join(" / "),
        w1Medians[i] as number,
        ratio(w1Medians[i] as number, w1Medians[0] as number),
        perRequest(w1.cpu[i] as Cpu),
        String(w1.errors[i]),
      ]);
      const w5Rows = kinds.map((k, i) => [
        k,
        (w5[i]?.rates ?? []).map((r) => fmt(r)).join(" / "),
        w5Medians[i] as number,
        ratio(w5Medians[i] as number, w5Medians[0] as number),
        perRequest(w5[i]?.cpu as Cpu),
        String(w5[i]?.errors),
      ]);
      return `# The Redis store on one server, Sentinel and a Cluster — stub upstream, ${rounds} rounds of ${seconds} s in turn

W1: a session's tools/call, 32 connections (a session confirmed in the last 10 s is answered from the
gateway's cache: one Redis round trip per session per 10 s).

${table(["store", "req/s per round", "median req/s", "× one server", "CPU µs/req user + sys", "errors"], w1Rows)}

W5: initialize → tools/call → DELETE, 16 loops (each session: SET NX, then DEL and a PUBLISH; CPU per cycle).

${table(["store", "cycles/s per round", "median cycles/s", "× one server", "CPU µs/cycle user + sys", "errors"], w5Rows)}
`;
    } finally {
      for (const g of gateways) await g.stop();
      for (const d of deployments) await d.stop();
    }
  });
}

function compareTracing(rounds: number, seconds: number): Promise<string> {
  return withStub(async ({ wrk, dir, upstream, routes }) => {
    const sink = await discardingCollector();
    const gateways = [
      await startSwitchyard(dir, routes, "15s"),
      await startSwitchyard(dir, routes, "15s", { otlp: sink.url }),
      await startSwitchyard(dir, routes, "15s", { otlp: sink.url, otlpRatio: 0.1 }),
    ];
    const names = ["tracing off", "every request traced", "1 in 10 traced"];
    try {
      const loads = await Promise.all(gateways.map((g) => loadThrough("w1", g, upstream)));
      const { rps, errors, cpu } = await interleaved(
        wrk,
        dir,
        gateways.map((g, i) => ({ label: `TRACING ${names[i]}`, load: loads[i] as Load, pid: g.pid })),
        rounds,
        seconds,
      );
      const medians = rps.map(median);
      const off = medians[0] as number;
      const rows = gateways.map((_, i) => [
        names[i] as string,
        (rps[i] as number[]).map((r) => fmt(r)).join(" / "),
        medians[i] as number,
        ratio(medians[i] as number, off),
        perRequest(cpu[i] as Cpu),
        String(errors[i]),
      ]);
      const all = (medians[1] as number) / off;
      return `# W1 with OpenTelemetry — stub upstream, 32 connections, ${rounds} rounds of ${seconds} s in turn

${table(["gateway", "req/s per round", "median req/s", "× off", "CPU µs/req user + sys", "errors"], rows)}

- ${all >= 0.85 ? "PASS" : "MISS"} W1 every request traced ≥ 0.85× tracing off: ${ratio(medians[1] as number, off)}
`;
    } finally {
      for (const g of gateways) await g.stop();
      sink.close();
    }
  });
}
