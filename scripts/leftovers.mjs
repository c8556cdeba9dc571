// No process may outlive its test file. The test command gives its run an id in the environment
// (SWITCHYARD_TEST_RUN): the path of the run's own pid file. The run's processes are found two ways after
// it, so that one of another run on the same machine is never counted, nor touched:
// - every process that carries the id in its environment (whatever the tests started, and its children);
// - every member of a process group that the tests' spawn helper started and recorded in that file
//   (Redis and nginx rewrite the memory that holds their environment for their process titles).
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const RUN_VARIABLE = "SWITCHYARD_TEST_RUN";

/** A new run's id: the file where the spawn helper records the process groups it starts. */
export function newRunId() {
  return join(tmpdir(), `switchyard-test-${randomUUID()}.pids`);
}

function recordedGroups(runId) {
  try {
    return new Set(readFileSync(runId, "utf8").split("\n").filter(Boolean).map(Number));
  } catch {
    return new Set();
  }
}

/** `[{ pid, command }]` of the run's processes alive now (Linux `/proc`). */
export function processesOfRun(runId) {
  const marker = `${RUN_VARIABLE}=${runId}`;
  const groups = recordedGroups(runId);
  const found = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      // stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so read after its closing paren.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z") continue; // exited, not yet reaped by its parent
      const ours =
        groups.has(Number(pgrp)) || readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(marker);
      if (!ours) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      found.push({ pid, command: command.slice(0, 200) });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** The run's processes still alive once those merely exiting have had `graceMs` to go. */
export async function leftovers(runId, graceMs = 5000) {
  const end = Date.now() + graceMs;
  let left = processesOfRun(runId);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    left = processesOfRun(runId);
  }
  rmSync(runId, { force: true });
  return left;
}
