#!/usr/bin/env node
// Runs every test file with node's test runner (TypeScript through tsx). Files may be named on the
// command line (`npm test -- test/unit/sse-boundary.test.ts`) to run just those.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { leftovers, newRunId, RUN_VARIABLE } from "./leftovers.mjs";
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
const runId = newRunId();
const started = Date.now();
// A file that runs longer than 4 minutes is taken for hung (the longest, the quick chaos run, takes 1–2.5).
const result = spawnSync(
  node,
  ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", "--test-timeout=240000", ...files],
  { stdio: "inherit", env: { ...process.env, [RUN_VARIABLE]: runId } },
);
process.stdout.write(`test files ran in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
// No process may outlive its test file: whatever the run started and left behind fails it.
const left = await leftovers(runId);
for (const p of left) {
  process.stdout.write(`left running after the tests: pid ${p.pid}: ${p.command}\n`);
  try {
    process.kill(p.pid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
}
if (left.length > 0) {
  process.stdout.write(`${left.length} process(es) outlived their test file\n`);
  process.exit(1);
}
process.exit(result.status ?? 1);
