import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVERYTHING, type HostProc, startHost } from "../../test/helpers/host.js";
import { type Managed, spawnManaged, startOnFreePort } from "../../test/helpers/procs.js";
import { waitFor } from "../../test/helpers/wait.js";
import { MCP_HEADERS, openSession } from "./mcp.js";
import { runWrk, type WrkResult } from "./wrk.js";

const ECHO = JSON.stringify({
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "echo", arguments: { message: "hello" } },
});

export interface HostBench {
  /** Milliseconds from `initialize` sent to its answer, per new session. */
  startupMs: Record<string, number[]>;
  calls: Record<string, WrkResult>;
}

/** server-everything on its own Streamable HTTP transport (a free port: it cannot report port 0). */
async function startEverythingHttp(): Promise<Managed & { url: string }> {
  return startOnFreePort(async (port) => {
    const proc = spawnManaged(process.execPath, [EVERYTHING, "streamableHttp"], { PORT: String(port) });
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    await waitFor("server-everything to listen", () => {
      if (exited) throw new Error(proc.stderr.join("\n"));
      return proc.stderr.some((l) => l.includes("listening"));
    }).catch(async (err) => {
      await proc.stop("SIGKILL");
      throw err;
    });
    return Object.assign(proc, { url: `http://127.0.0.1:${port}/mcp` });
  });
}

async function timeInitialize(url: string): Promise<number> {
  const started = performance.now();
  const sid = await openSession(url);
  const ms = performance.now() - started;
  await fetch(url, { method: "DELETE", headers: { ...MCP_HEADERS, "mcp-session-id": sid } }).then((r) =>
    r.arrayBuffer(),
  );
  return ms;
}

/**
 * `switchyard host` against the same server's own HTTP transport (server-everything, stdio and
 * Streamable HTTP): the time a new session waits for its `initialize` answer — with the spare process,
 * without it — and a session's `tools/call` (`echo`) under load.
 */
export async function hostBench(
  wrk: string,
  dir: string,
  plan: { seconds: number; warmSeconds: number; sessions: number; pauseMs: number },
): Promise<HostBench> {
  const direct = await startEverythingHttp();
  const hosts: HostProc[] = [];
  try {
    const everything = [process.execPath, EVERYTHING, "stdio"];
    const quiet = ["--log-level", "warn", "--pool", "0"];
    const spare = await startHost(
      [...quiet, "--state-dir", mkdtempSync(join(tmpdir(), "swy-bench-host-"))],
      everything,
    );
    hosts.push(spare);
    const cold = await startHost(
      [...quiet, "--no-spare", "--state-dir", mkdtempSync(join(tmpdir(), "swy-bench-host-"))],
      everything,
    );
    hosts.push(cold);
    const variants = [
      ["its own HTTP transport", direct.url],
      ["host, a spare process ready", spare.mcp],
      ["host, no spare (--no-spare)", cold.mcp],
    ] as const;
    const startupMs: Record<string, number[]> = {};
    for (const [name] of variants) startupMs[name] = [];
    // Sessions a second apart (as clients arrive), in turn, so that the spare has started again meanwhile.
    for (let i = 0; i < plan.sessions; i++) {
      for (const [name, url] of variants) {
        await new Promise((r) => setTimeout(r, plan.pauseMs));
        startupMs[name]?.push(await timeInitialize(url));
      }
    }
    const calls: Record<string, WrkResult> = {};
    for (const [name, url] of [variants[0], variants[1]]) {
      const sid = await openSession(url);
      const load = {
        url,
        connections: 8,
        body: ECHO,
        headers: { ...MCP_HEADERS, "mcp-session-id": sid },
        uniqueIds: true,
      };
      if (plan.warmSeconds > 0) await runWrk(wrk, dir, { ...load, seconds: plan.warmSeconds });
      calls[name] = await runWrk(wrk, dir, { ...load, seconds: plan.seconds });
    }
    return { startupMs, calls };
  } finally {
    for (const h of hosts) await h.stop();
    await direct.stop();
  }
}
