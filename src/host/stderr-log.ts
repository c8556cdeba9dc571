/** Longest stderr line logged as it is; the rest of it is cut (said with `…`). */
export const MAX_LINE_CHARS = 1024;
/** Lines per second a process may log; more are counted and said once as a number. */
export const LINES_PER_SECOND = 20;

/**
 * A process's stderr as log lines: split at newlines, each cut at `MAX_LINE_CHARS`, at most
 * `LINES_PER_SECOND` per second (a token bucket); the lines dropped past it are reported as a count
 * (`emit(undefined, n)`) when logging resumes or the process ends. A chatty or hostile child cannot
 * flood the log or hold unbounded memory here.
 */
export class StderrLog {
  private partial = "";
  private tokens = LINES_PER_SECOND;
  private refilledAt = Date.now();
  private dropped = 0;

  constructor(private readonly emit: (line: string | undefined, dropped: number) => void) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString("utf8");
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    // A line with no end in sight is logged in pieces rather than held.
    if (this.partial.length > MAX_LINE_CHARS) {
      lines.push(this.partial);
      this.partial = "";
    }
    for (const line of lines) this.line(line);
  }

  /** The process ended: what is held, and the count of what was dropped. */
  flush(): void {
    if (this.partial !== "") this.line(this.partial);
    this.partial = "";
    this.reportDropped();
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, "");
    if (line === "") return;
    const now = Date.now();
    this.tokens = Math.min(LINES_PER_SECOND, this.tokens + ((now - this.refilledAt) / 1000) * LINES_PER_SECOND);
    this.refilledAt = now;
    if (this.tokens < 1) {
      this.dropped++;
      return;
    }
    this.tokens--;
    this.reportDropped();
    this.emit(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line, 0);
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    const n = this.dropped;
    this.dropped = 0;
    this.emit(undefined, n);
  }
}
