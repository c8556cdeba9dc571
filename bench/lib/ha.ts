import { fileURLToPath } from "node:url";
import { type Managed, spawnManaged } from "../../test/helpers/procs.js";
import { MCP_HEADERS, openSession } from "./mcp.js";
import { runWrk, type WrkResult } from "./wrk.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/ha-server/server.ts", import.meta.url));

const INCREMENT = JSON.stringify({
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "increment", arguments: {} },
});

async function startNode(node: string, redisUrl: string): Promise<Managed & { url: string }> {
  const proc = spawnManaged(process.execPath, ["--import", "tsx", EXAMPLE, "--node", node, "--redis", redisUrl]);
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  return Object.assign(proc, { url: (JSON.parse(line) as { url: string }).url });
}

export interface HaBench {
  /** The same session's call at its owner, and at another node (one forward hop). */
  calls: Record<string, WrkResult>;
  /** Milliseconds from the first request after the owner's death to its answer, per trial. */
  adoptionMs: number[];
}

/**
 * `switchyard/ha`: the cost of one forward hop (a call sent to a node that does not own the session),
 * and how long a session takes to be adopted after its owner is killed (from the first request).
 */
export async function haBench(
  wrk: string,
  dir: string,
  redisUrl: string,
  seconds: number,
  /** The bundled example server without the library, for reference. */
  plainUrl: string,
): Promise<HaBench> {
  const nodes = await Promise.all(["h1", "h2", "h3"].map((n) => startNode(n, redisUrl)));
  try {
    const [owner, other] = nodes as [Managed & { url: string }, Managed & { url: string }];
    const sid = await openSession(owner.url);
    const plainSid = await openSession(plainUrl);
    const calls: Record<string, WrkResult> = {};
    // One connection: what a hop adds to a call's latency; four: what it costs under load.
    for (const connections of [1, 4]) {
      for (const [name, url, session, body] of [
        ["plain SDK server (no HA)", plainUrl, plainSid, INCREMENT.replace("increment", "whoami")],
        ["at its owner", owner.url, sid, INCREMENT],
        ["one hop away", other.url, sid, INCREMENT],
      ] as const) {
        const load = {
          url,
          connections,
          body,
          headers: { ...MCP_HEADERS, "mcp-session-id": session },
          uniqueIds: true,
        };
        await runWrk(wrk, dir, { ...load, seconds: 1 });
        calls[`${name}, ${connections} conn`] = await runWrk(wrk, dir, { ...load, seconds });
      }
    }
    // Adoption: five sessions on a node that is then killed; each first request goes to a survivor.
    const victim = await startNode("h-victim", redisUrl);
    const sessions = await Promise.all([1, 2, 3, 4, 5].map(() => openSession(victim.url)));
    victim.child.kill("SIGKILL");
    await victim.exited;
    const adoptionMs: number[] = [];
    for (const [i, session] of sessions.entries()) {
      const to = (nodes[i % nodes.length] as { url: string }).url;
      const started = performance.now();
      const res = await fetch(to, {
        method: "POST",
        headers: { ...MCP_HEADERS, "mcp-session-id": session },
        body: INCREMENT,
      });
      await res.text();
      if (res.status !== 200) throw new Error(`adoption answered ${res.status}`);
      adoptionMs.push(performance.now() - started);
    }
    return { calls, adoptionMs };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}
