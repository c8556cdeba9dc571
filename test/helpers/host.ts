import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, type Managed, ROOT, spawnManaged } from "./procs.js";

export const STDIO_FIXTURE = join(ROOT, "test/fixtures/stdio-server.mjs");
export const EVERYTHING = join(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

export interface HostProc extends Managed {
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** Its MCP endpoint. */
  mcp: string;
  stateDir: string;
}

/**
 * `switchyard host [args] -- COMMAND` as a real child process on a free port (the stdio fixture by
 * default), with its own state directory unless `args` names one.
 */
export async function startHost(
  args: string[] = [],
  command: string[] = [process.execPath, STDIO_FIXTURE],
  env: NodeJS.ProcessEnv = {},
): Promise<HostProc> {
  const i = args.indexOf("--state-dir");
  const stateDir = i >= 0 ? (args[i + 1] as string) : mkdtempSync(join(tmpdir(), "swy-host-state-"));
  const proc = spawnManaged(
    process.execPath,
    [
      CLI,
      "host",
      "--listen",
      "127.0.0.1:0",
      ...(i >= 0 ? [] : ["--state-dir", stateDir]),
      "--log-level",
      "info",
      ...args,
      "--",
      ...command,
    ],
    env,
  );
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  const base = (JSON.parse(line) as { url: string }).url;
  return Object.assign(proc, { base, mcp: `${base}/mcp`, stateDir });
}

/** Whether a process is alive (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The live processes of a process group. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(pid);
    } catch {}
  }
  return out;
}

/** The `process` events of a host's log (JSON lines), by event name. */
export function processEvents(host: Managed, event: string): Array<Record<string, unknown>> {
  return host.lines
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((e) => e.event === event && e.child !== undefined);
}
