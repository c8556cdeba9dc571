import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GroupLedger } from "./stdio-child.js";

/** A process's group and start time (clock ticks since boot), from `/proc/PID/stat`; undefined if it is gone. */
function procStat(pid: number): { pgrp: number; start: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pgrp: Number(fields[2]), start: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The process groups `host` started, one file each in its state directory (`--state-dir`), with the
 * leader's start time. `host` removes a file when its process exits; a file that is still there at the
 * next start is a group a crashed `host` left behind: its processes (those that started since) are killed.
 * One `host` per state directory (`host.pid` says which).
 */
export class GroupFiles implements GroupLedger {
  constructor(private readonly dir: string) {}

  /** Claim the directory (refused if a live `host` holds it), then end what a previous one left. */
  claim(): { swept: number } {
    mkdirSync(this.dir, { recursive: true });
    const pidFile = join(this.dir, "host.pid");
    if (existsSync(pidFile)) {
      const owner = Number(readFileSync(pidFile, "utf8"));
      if (owner !== process.pid && owner > 0 && isAlive(owner) && procStat(owner) !== undefined) {
        throw new Error(
          `state directory ${this.dir} is held by a running host (pid ${owner}): give another --state-dir`,
        );
      }
    }
    writeFileSync(pidFile, String(process.pid));
    return { swept: this.sweep() };
  }

  add(pid: number): void {
    const stat = procStat(pid);
    writeFileSync(join(this.dir, `group-${pid}`), String(stat?.start ?? 0));
  }

  remove(pid: number): void {
    rmSync(join(this.dir, `group-${pid}`), { force: true });
  }

  /** Release the directory (a clean stop: every group was ended). */
  release(): void {
    rmSync(join(this.dir, "host.pid"), { force: true });
  }

  /** Kill every process still in a recorded group that started no earlier than the group did. */
  private sweep(): number {
    const recorded = new Map<number, number>();
    for (const name of readdirSync(this.dir)) {
      const m = /^group-(\d+)$/.exec(name);
      if (!m) continue;
      recorded.set(Number(m[1]), Number(readFileSync(join(this.dir, name), "utf8")) || 0);
      rmSync(join(this.dir, name), { force: true });
    }
    if (recorded.size === 0) return 0;
    let killed = 0;
    for (const entry of readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
      const stat = procStat(pid);
      const since = stat && recorded.get(stat.pgrp);
      // A pid reused by an unrelated, older process is not touched: only what started since the group did.
      if (stat === undefined || since === undefined || stat.start < since) continue;
      try {
        process.kill(pid, "SIGKILL");
        killed++;
      } catch {}
    }
    return killed;
  }
}
