import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface WrkResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const lua = (s: string) => JSON.stringify(s);

/** Run wrk (one thread) POSTing `body` with `headers` to `url`; latencies in ms. */
export async function runWrk(
  wrk: string,
  dir: string,
  options: {
    url: string;
    connections: number;
    seconds: number;
    body: string;
    headers: Record<string, string>;
    /**
     * Give every request its own JSON-RPC id (the body's `"id":2` is replaced by a counter). A real
     * server answers concurrent requests of one session by id: the same id in flight twice is a
     * client's error (JSON-RPC), and an SDK server may then answer one of them late or never.
     */
    uniqueIds?: boolean;
  },
): Promise<WrkResult> {
  const script = join(dir, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(
    script,
    `wrk.method = "POST"
wrk.body = ${lua(options.body)}
${Object.entries(options.headers)
  .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`)
  .join("\n")}
${
  options.uniqueIds
    ? `counter = 1000
request = function()
  counter = counter + 1
  local body = string.gsub(wrk.body, '"id":2,', '"id":' .. counter .. ',', 1)
  return wrk.format(nil, nil, nil, body)
end
`
    : ""
}done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK {\\"requests\\":%d,\\"duration\\":%d,\\"errors\\":%d,\\"p50\\":%d,\\"p99\\":%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(wrk, [
      "-t1",
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      "--timeout",
      "5s",
      "-s",
      script,
      options.url,
    ]);
    let text = "";
    child.stdout.on("data", (d) => {
      text += d;
    });
    child.stderr.on("data", (d) => {
      text += d;
    });
    child.on("error", reject);
    child.on("exit", () => resolve(text));
  });
  const line = out.split("\n").find((l) => l.startsWith("WRK "));
  if (!line) throw new Error(`wrk printed no summary:\n${out}`);
  const r = JSON.parse(line.slice(4)) as {
    requests: number;
    duration: number;
    errors: number;
    p50: number;
    p99: number;
  };
  return {
    requests: r.requests,
    rps: r.requests / (r.duration / 1e6),
    p50: r.p50 / 1000,
    p99: r.p99 / 1000,
    errors: r.errors,
  };
}
