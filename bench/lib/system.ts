import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";

const EXTRA_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/** Path of an executable, looking in PATH and the sbin directories; undefined if absent. */
export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...EXTRA_DIRS]) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/** nginx, haproxy and wrk, or a message that says how to get the missing ones. */
export function requireTools(): { nginx: string; haproxy: string; wrk: string } {
  const tools = { nginx: findBinary("nginx"), haproxy: findBinary("haproxy"), wrk: findBinary("wrk") };
  const missing = Object.entries(tools)
    .filter(([, path]) => !path)
    .map(([name]) => name);
  if (missing.length) {
    throw new Error(
      `the benchmarks need ${missing.join(", ")}: install the Debian packages with\n  sudo apt-get install ${missing.join(" ")}\n(or run \`bash scripts/test-setup.sh\`, which the test command runs too)`,
    );
  }
  return tools as { nginx: string; haproxy: string; wrk: string };
}

export function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft limit on open files of this process (children inherit it). */
export function fileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

/** CPU time a process has used so far, in seconds: user and system (`/proc/PID/stat`, clock ticks of 1/100 s). */
/** CPU time of a process and its children (a gateway's workers under `--workers`). */
export function treeCpuSeconds(pid: number): { user: number; sys: number } {
  let children: number[] = [];
  try {
    children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    // none (pgrep exits 1)
  }
  const all = [pid, ...children].map((p) => {
    try {
      return cpuSeconds(p);
    } catch {
      return { user: 0, sys: 0 }; // gone meanwhile
    }
  });
  return { user: all.reduce((t, c) => t + c.user, 0), sys: all.reduce((t, c) => t + c.sys, 0) };
}

export function cpuSeconds(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: the fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
}
