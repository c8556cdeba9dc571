#!/usr/bin/env node
// The product runs on Node >= 20.18; the `node` and `node24` dev dependencies (Node 22 for the
// conformance suite and the Inspector, Node 24 for the test command's second run) put a binary first on
// npm scripts' PATH. Tests and benchmarks run the product on the machine's own Node: this finds it (the first `node` on PATH outside node_modules), and, run
// as a script, runs it with the given arguments: `node scripts/system-node.mjs --import tsx bench/run.ts`.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

export function systemNode() {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || dir.split(sep).includes("node_modules")) continue;
    const candidate = join(dir, process.platform === "win32" ? "node.exe" : "node");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return process.execPath;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = spawnSync(systemNode(), process.argv.slice(2), { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
