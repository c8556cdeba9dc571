#!/usr/bin/env node
// Runs every test file with node's test runner (TypeScript through tsx), on the machine's Node; then the
// part of the suite where the runtime itself is under test again on Node 24 (the `node24` dev
// dependency), the active LTS most users run. Files may be named on the command line (`npm test --
// test/unit/sse-boundary.test.ts`) to run just those, on the machine's Node (`--node24`: on Node 24).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { leftovers, newRunId, RUN_VARIABLE } from "./leftovers.mjs";
import { systemNode } from "./system-node.mjs";

/** Node 24, from the `node24` dev dependency (npm's `node` package, as `node` provides Node 22). */
const NODE24 = join("node_modules", "node24", "bin", "node");

/**
 * What runs on Node 24 too. The whole suite twice would not fit the test command's 15 minutes, so this is
 * the part where the runtime decides the outcome: Node's HTTP parser and server (the fuzz run, request
 * smuggling, slow clients, streaming), the gateway's memory (the fuzz run's live heap), `node:cluster`
 * (a primary and two workers started, serving and stopped gracefully: `shutdown.test.ts`), fetch and
 * undici (SDK clients, the upstream pool), crypto (tokens), the pure logic (unit and property tests).
 * What it leaves to the machine's Node alone exercises other servers, or the gateway's own logic, more
 * than Node: nginx, Caddy, HAProxy, Redis topologies, DNS, the bench and chaos runs, the conformance
 * suite, Chromium, and what the workers share (`workers.test.ts`, a minute of it).
 */
const ON_NODE24 = [
  "test/unit",
  "test/property",
  "test/security",
  "test/contract/memory-store.test.ts",
  "test/integration/modern.test.ts",
  "test/integration/shutdown.test.ts",
  "test/integration/slow-clients.test.ts",
  "test/integration/streaming.test.ts",
  "test/integration/tenants.test.ts",
];

function collect(path) {
  if (!statSync(path).isDirectory()) return [path];
  const out = [];
  for (const name of readdirSync(path).sort()) {
    const child = join(path, name);
    if (statSync(child).isDirectory()) out.push(...collect(child));
    else if (name.endsWith(".test.ts")) out.push(child);
  }
  return out;
}

/** Run `files` on `node`; true when every test passed. */
function run(node, files, runId) {
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  process.stdout.write(`tests run on ${node} (${version}): ${files.length} files\n`);
  const started = Date.now();
  // A file that runs longer than 4 minutes is taken for hung (the longest, the quick chaos run, takes 1–2.5).
  const result = spawnSync(
    node,
    ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", "--test-timeout=240000", ...files],
    { stdio: "inherit", env: { ...process.env, [RUN_VARIABLE]: runId } },
  );
  process.stdout.write(`test files ran on ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return result.status === 0;
}

const args = process.argv.slice(2);
const only24 = args.includes("--node24");
const named = args.filter((a) => a !== "--node24");
// On the machine's Node, not the Node 22 or 24 dev dependency that npm puts first on PATH.
const plan = named.length > 0 ? [[only24 ? NODE24 : systemNode(), named]] : [[systemNode(), collect("test")]];
if (named.length === 0) {
  if (!existsSync(NODE24)) {
    process.stdout.write(`${NODE24} is missing: run npm ci\n`);
    process.exit(1);
  }
  plan.push([NODE24, ON_NODE24.flatMap(collect)]);
}
const runId = newRunId();
let passed = true;
for (const [node, files] of plan) passed = run(node, files, runId) && passed;
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
process.exit(passed ? 0 : 1);
