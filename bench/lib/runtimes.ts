import { join } from "node:path";
import { Inspector } from "../../test/helpers/inspector.js";
import { ROOT, spawnManaged } from "../../test/helpers/procs.js";
import { type Contender, startNginxProxy, startSwitchyard } from "./contenders.js";
import { idleStreams } from "./idle-streams.js";
import { median, roundRows, withStub, workloadRounds } from "./single.js";
import { fileLimit } from "./system.js";
import { fmt, ratio, table } from "./table.js";

/** Node 24, from the `node24` dev dependency. */
const NODE24 = join(ROOT, "node_modules", "node24", "bin", "node");

/**
 * `--only RUNTIMES`: Switchyard on the machine's Node and on Node 24 side by side in one run: W1 (a
 * session's calls) in interleaved rounds beside nginx, then W4 (idle SSE streams held open) through each
 * in turn, with the memory each stream costs as RSS and as live heap (after full collections, through
 * each gateway's inspector).
 */
export function compareRuntimes(
  rounds: number,
  seconds: number,
  w4: { streams: number; holdMs: number },
): Promise<string> {
  return withStub(async ({ wrk, nginx, dir, upstream, routes }) => {
    const ticker = spawnManaged(process.execPath, [
      "--import",
      "tsx",
      new URL("../upstreams/ticker.ts", import.meta.url).pathname,
    ]);
    const tickerUrl = new URL(JSON.parse(await ticker.waitForLine((l) => l.includes('"listening"'))).url);
    const all = [...routes, { name: "ticker", upstream: tickerUrl.host }];
    const inspect = ["--inspect=127.0.0.1:0"];
    const gateways: Contender[] = [];
    let ngx: Contender | undefined;
    const inspectors: Inspector[] = [];
    try {
      gateways.push(
        await startSwitchyard(dir, all, "1s", { label: `switchyard-node${process.versions.node}`, nodeArgs: inspect }),
      );
      gateways.push(
        await startSwitchyard(dir, all, "1s", { label: "switchyard-node24", node: NODE24, nodeArgs: inspect }),
      );
      ngx = await startNginxProxy(nginx, dir, all);
      for (const g of gateways) inspectors.push(await Inspector.attach(g.proc as NonNullable<Contender["proc"]>));
      const contenders = [...gateways, ngx];
      const { rps, errors, cpu } = await workloadRounds(
        "w1",
        contenders,
        { wrk, dir, upstream },
        rounds,
        seconds,
        (c) => (c.name === "nginx" ? undefined : c.pid),
      );
      const [mine, on24, nginxRps] = rps.map(median) as [number, number, number];
      const rows = roundRows(
        contenders.map((c) => c.name),
        { rps, errors, cpu },
        [nginxRps, mine],
      );
      const n = Math.min(w4.streams, Math.floor((fileLimit() - 200) / 2));
      const w4rows: Array<Array<string | number>> = [];
      for (const [i, g] of gateways.entries()) {
        process.stderr.write(`W4 ${g.name} (${n} streams)\n`);
        const inspector = inspectors[i] as Inspector;
        const r = await idleStreams(g.url("ticker"), n, w4.holdMs, g.pid as number, () => inspector.liveHeap());
        w4rows.push([
          g.name,
          `${r.opened}/${n}`,
          String(r.dropped),
          fmt(r.rssPerStream / 1024, 1),
          fmt((r.heapPerStream ?? 0) / 1024, 1),
          `${r.withHeartbeat}/${r.opened}`,
        ]);
      }
      return `# Node ${process.versions.node} and Node 24 side by side — ${rounds} rounds of ${seconds} s in turn

## W1 — a session's calls, stub upstream, 32 connections

${table(["contender", "req/s per round", "median req/s", "× nginx", `× node ${process.versions.node}`, "CPU µs/req user + sys", "errors"], rows)}

- Node 24 against Node ${process.versions.node}: ${ratio(on24, mine)}

## W4 — ${n} idle SSE streams held open (heartbeat every 1 s)

${table(["contender", "open", "dropped", "RSS KiB/stream", "live heap KiB/stream", "heartbeats"], w4rows)}

RSS counts what V8 and the allocator hold; the live heap, what is alive after full collections (forced
through the inspector), i.e. what a stream really keeps.
`;
    } finally {
      for (const i of inspectors) i.close();
      for (const c of [...gateways, ngx]) await c?.stop();
      await ticker.stop();
    }
  });
}
