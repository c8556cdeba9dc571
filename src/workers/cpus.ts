import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** cgroup v2 `cpu.max` (`QUOTA PERIOD`, or `max PERIOD`): the CPUs it allows, or undefined for no limit. */
export function cpusOfCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === "max" || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

/** cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`: the CPUs they allow, or undefined (-1: no limit). */
export function cpusOfCfs(quotaText: string, periodText: string): number | undefined {
  const q = Number(quotaText.trim());
  const p = Number(periodText.trim());
  return q > 0 && p > 0 ? q / p : undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The CPU quota of this process's cgroup (v2, then v1), in CPUs; undefined when there is none. */
export function cgroupCpus(): number | undefined {
  const v2 = read("/sys/fs/cgroup/cpu.max");
  if (v2 !== undefined) return cpusOfCpuMax(v2);
  for (const dir of ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    const period = read(`${dir}/cpu.cfs_period_us`);
    if (quota !== undefined && period !== undefined) return cpusOfCfs(quota, period);
  }
  return undefined;
}

/**
 * `workers: auto`: the CPUs this process may run on (its affinity), bounded by its cgroup's quota (a
 * container limited to 1.5 CPUs gets 1 worker: a worker more than the quota only adds throttling).
 */
export function autoWorkers(): number {
  const quota = cgroupCpus();
  const cpus = availableParallelism();
  return Math.max(1, quota === undefined ? cpus : Math.min(cpus, Math.floor(quota)));
}
