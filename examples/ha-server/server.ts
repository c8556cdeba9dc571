/**
 * A stateful MCP server (TypeScript SDK v1) made highly available with `switchyard/ha`: run several of
 * these behind any load balancer (plain round-robin will do) with one Redis, and every replica serves
 * every session; a replica that dies loses nothing its clients can resume.
 *
 *   node --import tsx examples/ha-server/server.ts --node a --port 3001 --redis redis://127.0.0.1:6379
 *
 * `--redis` also takes Sentinel (`redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/NAME`); a Redis Cluster
 * is `--redis-cluster redis://127.0.0.1:7000,redis://127.0.0.1:7001`.
 *
 * In your own project: `import { createHaHandler } from "switchyard/ha";`
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { createHaHandler } from "../../src/ha/index.js";
import { startOtlp } from "../../src/index.js";

const { values } = parseArgs({
  options: {
    node: { type: "string", default: "node-1" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
    "redis-cluster": { type: "string" },
    "retry-idempotent": { type: "boolean", default: false },
    // Traces of the library's own (the forward hop, adoption) to an OpenTelemetry collector (OTLP/HTTP).
    otlp: { type: "string" },
  },
});
const node = values.node as string;

/** One session's server: a per-session counter, and a long task that reports its progress. */
function createMcpServer(): McpServer {
  const server = new McpServer({ name: "ha-example", version: "1.0.0" });
  let count = 0;
  server.registerTool(
    "increment",
    {
      description: "Adds one to this session's counter (kept in this server object: an adopted session counts again from 0).",
      outputSchema: { count: z.number(), node: z.string(), session: z.string() },
    },
    async (extra) => {
      count++;
      const result = { count, node, session: extra.sessionId ?? "" };
      return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  server.registerTool(
    "long_task",
    {
      description: "Sends `steps` progress notifications, `delayMs` apart, then answers.",
      inputSchema: { steps: z.number().int().min(1).max(1000), delayMs: z.number().int().min(0).max(60_000) },
    },
    async ({ steps, delayMs }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        await new Promise((r) => setTimeout(r, delayMs));
        if (token !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: i, total: steps },
          });
        }
      }
      return { content: [{ type: "text", text: `done on ${node}` }] };
    },
  );
  server.registerTool(
    "lookup",
    {
      description: "A long, read-only lookup: running it twice is harmless (idempotent).",
      inputSchema: { delayMs: z.number().int().min(0).max(60_000) },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async ({ delayMs }) => {
      await new Promise((r) => setTimeout(r, delayMs));
      return { content: [{ type: "text", text: `looked up on ${node}` }] };
    },
  );
  return server;
}

// With an OpenTelemetry SDK registered (here `startOtlp`, or your own), the library's spans are exported.
const telemetry = values.otlp
  ? await startOtlp({
      endpoint: values.otlp,
      headers: {},
      sampleRatio: 1,
      serviceName: `ha-example-${node}`,
      metricsInterval: 60_000,
    })
  : undefined;

const http = createServer();
await new Promise<void>((resolve) => http.listen(Number(values.port), values.host, resolve));
const { port } = http.address() as AddressInfo;
const url = `http://${values.host}:${port}`;

// Before: one StreamableHTTPServerTransport per session in a Map of this process (sticky sessions needed).
// After: the same server factory, handed to the HA handler.
const handler = createHaHandler({
  createServer: createMcpServer,
  redis: values["redis-cluster"]
    ? { url: "", cluster: (values["redis-cluster"] as string).split(",") }
    : (values.redis as string),
  nodeId: node,
  advertiseUrl: url,
  // Opt in: an idempotent tool cut short by a replica's death is run again instead of failing.
  retryIdempotentTools: values["retry-idempotent"] as boolean,
});
http.on("request", handler);
await handler.ready;
process.stdout.write(`${JSON.stringify({ msg: "listening", url: `${url}/mcp`, node })}\n`);

const stop = async () => {
  await handler.drain();
  http.close();
  await telemetry?.shutdown();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
