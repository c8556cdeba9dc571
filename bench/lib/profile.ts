import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, table } from "./table.js";

/** A V8 CPU profile (`node --cpu-prof`), as much of it as the summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    hitCount?: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
}

/** Where a function lives: Switchyard's own code, Node's, a dependency (by package), or V8 itself. */
export function areaOf(url: string): string {
  if (url === "") return "v8";
  if (url.startsWith("node:")) return "node";
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1] as string;
  return url.includes("/dist/") || url.includes("/src/") ? "switchyard" : "other";
}

/** The file part of a script URL, short enough for a table (`dist/gateway/pipeline.js`, `node:_http_server`). */
function shortFile(url: string): string {
  if (url.startsWith("node:")) return url;
  const i = Math.max(url.lastIndexOf("/node_modules/"), url.lastIndexOf("/dist/"));
  return i >= 0 ? url.slice(i + 1) : url.replace(/^file:\/\//, "");
}

/**
 * The top functions by self time of the profile `node --cpu-prof` wrote into `dir`, and the share of each
 * area (Switchyard, Node, each dependency, V8's own: GC, the idle loop). Shares are of the busy samples:
 * the idle loop is shown but not counted in them.
 */
export function summariseProfile(dir: string, top = 25): string {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const byFunction = new Map<string, { area: string; hits: number }>();
  const byArea = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") {
      idle += hits;
      continue;
    }
    busy += hits;
    const area = areaOf(url);
    const key = url === "" ? functionName : `${functionName || "(anonymous)"} ${shortFile(url)}:${lineNumber + 1}`;
    const entry = byFunction.get(key) ?? { area, hits: 0 };
    entry.hits += hits;
    byFunction.set(key, entry);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const pct = (n: number) => `${fmt((100 * n) / busy, 1)} %`;
  const functions = [...byFunction.entries()].sort((a, b) => b[1].hits - a[1].hits).slice(0, top);
  const areas = [...byArea.entries()].sort((a, b) => b[1] - a[1]);
  return [
    `${busy} busy samples, ${idle} idle (${file})`,
    table(
      ["area", "self"],
      areas.map(([area, hits]) => [area, pct(hits)]),
    ),
    table(
      ["function", "area", "self"],
      functions.map(([name, e]) => [name, e.area, pct(e.hits)]),
    ),
  ].join("\n\n");
}
