import { Pool } from "undici";
import { CALL_BODY, MCP_HEADERS } from "./mcp.js";

export interface ChurnResult {
  cycles: number;
  rate: number;
  errors: number;
}

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "churn", version: "1" } },
});

/** Workload 5: `concurrency` loops of initialize → tools/call → DELETE for `seconds`. */
export async function churn(url: string, concurrency: number, seconds: number): Promise<ChurnResult> {
  const u = new URL(url);
  const pool = new Pool(u.origin, {
    connections: concurrency,
    pipelining: 1,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const path = u.pathname;
  let cycles = 0;
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  const loop = async () => {
    while (Date.now() < end) {
      try {
        const init = await pool.request({ path, method: "POST", headers: MCP_HEADERS, body: INIT });
        await init.body.dump();
        const sid = init.headers["mcp-session-id"];
        if (init.statusCode !== 200 || typeof sid !== "string") {
          errors++;
          continue;
        }
        const headers = { ...MCP_HEADERS, "mcp-session-id": sid };
        const call = await pool.request({ path, method: "POST", headers, body: CALL_BODY });
        await call.body.dump();
        const del = await pool.request({ path, method: "DELETE", headers });
        await del.body.dump();
        if (call.statusCode !== 200 || del.statusCode >= 300) errors++;
        else cycles++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (Date.now() - started) / 1000;
  await pool.close();
  return { cycles, rate: cycles / elapsed, errors };
}
