import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { loadConfig } from "../config/load.js";
import { createGateway } from "../gateway/server.js";
import { attachLogger } from "../observability/logger.js";
import { fail, onShutdown } from "./serve.js";

/** Start one example replica as a child process of this one; resolves with its MCP URL. */
function startReplica(name: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, "example-server", "--name", name, "--exit-with-parent"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
    lines.on("line", (line) => {
      try {
        const msg = JSON.parse(line) as { msg?: string; url?: string };
        if (msg.msg === "listening" && msg.url) resolve({ child, url: msg.url });
      } catch {}
    });
    child.once("exit", (code) => reject(new Error(`example replica ${name} exited (${code})`)));
  });
}

export async function runDemo(options: { listen: string }): Promise<void> {
  const replicas = await Promise.all([startReplica("replica-a"), startReplica("replica-b")]);
  const upstream = `demo=${replicas.map((r) => r.url).join(",")}`;
  const { logger } = attachLogger("warn");
  let gateway = createGateway(loadConfig({ flags: { listen: options.listen, upstream: [upstream] } }));
  let base: string;
  try {
    base = await gateway.listen();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    logger.warn(`${options.listen} is in use; listening on a free port instead`);
    const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
    gateway = createGateway(loadConfig({ flags: { listen: `${host}:0`, upstream: [upstream] } }));
    base = await gateway.listen().catch((e: Error) => fail(e.message));
  }
  const url = `${base}/demo/mcp`;
  const init = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
  });
  process.stdout.write(
    [
      "",
      "Switchyard demo: two replicas of the example MCP server behind one gateway (in-memory session store).",
      `  replicas: ${replicas.map((r) => r.url).join("  ")}`,
      `  MCP URL:  ${url}`,
      "",
      "Try it (the response carries the Mcp-Session-Id that now routes to one replica):",
      `  curl -si ${url} -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -d '${init}'`,
      "",
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
  onShutdown(async () => {
    await gateway.close();
    for (const r of replicas) r.child.kill("SIGTERM");
  });
}
