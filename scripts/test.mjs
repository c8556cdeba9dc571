#!/usr/bin/env node
// Runs every test file with node's test runner (TypeScript through tsx). Files may be named on the
// command line (`npm test -- test/unit/sse-boundary.test.ts`) to run just those.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { systemNode } from "./system-node.mjs";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : collect("test");
// On the machine's Node, not the Node 22 dev dependency that npm puts first on PATH.
const node = systemNode();
process.stdout.write(`tests run on ${node} (${spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()})\n`);
const result = spawnSync(
  node,
  ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", "--test-timeout=180000", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
