// An SSE upstream for the benchmarks: GET /ticker/mcp?tick=MS opens a stream that starts with
// `data: open`, then (if MS > 0) sends `data: <send time in ms>` every MS milliseconds. tick=0 stays idle.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const now = () => performance.timeOrigin + performance.now();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname.endsWith("/mcp") && req.method === "GET") {
    const tick = Number(url.searchParams.get("tick") ?? "0");
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("data: open\n\n");
    if (tick > 0) {
      const timer = setInterval(() => res.write(`data: ${now().toFixed(3)}\n\n`), tick);
      res.on("close", () => clearInterval(timer));
    }
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 0;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${port}` })}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
