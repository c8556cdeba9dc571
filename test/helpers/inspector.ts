import { createWriteStream } from "node:fs";
import { WebSocket } from "undici";
import type { Managed } from "./procs.js";
import { waitFor } from "./wait.js";

/** What a process started with it must be given to be inspected (`NODE_OPTIONS`): a port of its choosing. */
export const INSPECT = { NODE_OPTIONS: "--inspect=127.0.0.1:0" };

/**
 * The V8 inspector of a process the test started with `INSPECT`, over its DevTools protocol: collect its
 * garbage and read its live heap — what no reading of RSS can tell (V8 keeps the pages it grew into
 * and gives them back on its own schedule, differently in each Node version) — and write a heap
 * snapshot. Nothing in the product takes part: the inspector is Node's own.
 */
export class Inspector {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly chunks: string[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const msg = JSON.parse(String(event.data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: { chunk?: string };
      };
      if (msg.method === "HeapProfiler.addHeapSnapshotChunk") this.chunks.push(msg.params?.chunk ?? "");
      if (msg.id === undefined) return;
      const waiter = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) waiter?.reject(new Error(msg.error.message));
      else waiter?.resolve(msg.result);
    });
  }

  /** Attach to `proc` (started with `INSPECT`): its address is on its stderr. */
  static async attach(proc: Managed): Promise<Inspector> {
    const address = () => proc.stderr.map((l) => /Debugger listening on (ws:\/\/\S+)/.exec(l)?.[1]).find(Boolean);
    await waitFor("the inspector's address", () => address() !== undefined);
    const socket = new WebSocket(address() as string);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error("cannot reach the inspector")));
    });
    return new Inspector(socket);
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Bytes of live objects in the heap, after full collections (two: the first can leave finalised garbage). */
  async liveHeap(): Promise<number> {
    await this.call("HeapProfiler.collectGarbage");
    await this.call("HeapProfiler.collectGarbage");
    return (await this.call<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize;
  }

  /** A heap snapshot into `path` (open it in Chrome's DevTools, Memory tab, to compare two). */
  async snapshot(path: string): Promise<void> {
    this.chunks.length = 0;
    await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    const out = createWriteStream(path);
    for (const chunk of this.chunks) out.write(chunk);
    await new Promise<void>((resolve) => out.end(resolve));
    this.chunks.length = 0;
  }

  close(): void {
    this.socket.close();
  }
}
