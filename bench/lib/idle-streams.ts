import { type ClientRequest, request } from "node:http";
import { openFds, rss } from "./system.js";

export interface IdleResult {
  streams: number;
  opened: number;
  dropped: number;
  /** Resident memory added per open stream, bytes. */
  rssPerStream: number;
  /** Live heap added per open stream, bytes (after full collections), when `liveHeap` was given. */
  heapPerStream: number | undefined;
  fds: number;
  /** Streams that received at least one `:` heartbeat while idle. */
  withHeartbeat: number;
  /** Descriptors the proxy still held 5 s after the clients left, over its count before the run. */
  leftOpen: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Workload 4: hold `n` idle SSE streams open through a proxy; measure its memory and descriptors. */
export async function idleStreams(
  url: string,
  n: number,
  holdMs: number,
  pid: number,
  liveHeap?: () => Promise<number>,
): Promise<IdleResult> {
  await sleep(300);
  const heapBefore = await liveHeap?.();
  const before = rss(pid);
  const fdsBefore = openFds(pid);
  const reqs: ClientRequest[] = [];
  let opened = 0;
  let dropped = 0;
  let withHeartbeat = 0;
  const open = () =>
    new Promise<void>((resolve) => {
      const req = request(`${url}?tick=0`, { agent: false, headers: { accept: "text/event-stream" } }, (res) => {
        let text = "";
        let beat = false;
        let counted = false;
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (!counted && text.includes("data: open\n\n")) {
            counted = true;
            opened++;
            resolve();
          }
          if (!beat && text.includes("\n\n:\n\n")) {
            beat = true;
            withHeartbeat++;
          }
          if (text.length > 64) text = text.slice(-16);
        });
        res.on("close", () => {
          dropped++;
        });
        res.on("error", () => {});
      });
      req.on("error", () => resolve());
      req.end();
      reqs.push(req);
    });
  for (let i = 0; i < n; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, n - i) }, open));
  }
  await sleep(holdMs);
  const after = rss(pid);
  const heapAfter = await liveHeap?.();
  const fds = openFds(pid);
  const droppedWhileHeld = dropped;
  for (const req of reqs) req.destroy();
  await sleep(5000);
  const leftOpen = Math.max(0, openFds(pid) - fdsBefore);
  return {
    leftOpen,
    streams: n,
    opened,
    dropped: droppedWhileHeld + (n - opened),
    rssPerStream: (after - before) / Math.max(opened, 1),
    heapPerStream:
      heapBefore === undefined || heapAfter === undefined ? undefined : (heapAfter - heapBefore) / Math.max(opened, 1),
    fds,
    withHeartbeat,
  };
}
