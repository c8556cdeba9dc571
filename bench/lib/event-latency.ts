import { request } from "node:http";

export interface LatencyResult {
  events: number;
  /** Delivery delays in ms (receive time minus the upstream's send time). */
  delays: number[];
  /** Reads that carried more than one event. */
  merged: number;
  /** Events that arrived later than the next one was sent. */
  late: number;
  errors: number;
}

const now = () => performance.timeOrigin + performance.now();

/** Workload 3: `streams` SSE streams ticking every `tickMs`; measure each event's delivery delay. */
export async function eventLatency(
  url: string,
  streams: number,
  seconds: number,
  tickMs: number,
): Promise<LatencyResult> {
  const result: LatencyResult = { events: 0, delays: [], merged: 0, late: 0, errors: 0 };
  const reqs: Array<ReturnType<typeof request>> = [];
  await Promise.all(
    Array.from(
      { length: streams },
      () =>
        new Promise<void>((resolve) => {
          const req = request(
            `${url}?tick=${tickMs}`,
            { agent: false, headers: { accept: "text/event-stream" } },
            (res) => {
              if (res.statusCode !== 200) result.errors++;
              let pending = "";
              res.on("data", (chunk: Buffer) => {
                const at = now();
                pending += chunk.toString();
                const parts = pending.split("\n\n");
                pending = parts.pop() ?? "";
                let inThisRead = 0;
                for (const part of parts) {
                  const data = /^data: (\d+\.\d+)$/m.exec(part)?.[1];
                  if (!data) continue;
                  inThisRead++;
                  const delay = at - Number(data);
                  result.events++;
                  result.delays.push(delay);
                  if (delay > tickMs) result.late++;
                }
                if (inThisRead > 1) result.merged++;
              });
              res.on("error", () => {});
              resolve();
            },
          );
          req.on("error", () => {
            result.errors++;
            resolve();
          });
          req.end();
          reqs.push(req);
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  for (const req of reqs) req.destroy();
  return result;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
