const LF = 0x0a;
const CR = 0x0d;

/**
 * Tracks, byte by byte, whether an SSE byte stream sits between two events — the only place a
 * heartbeat comment may go. It models what the client's parser sees: an event ends at an empty line;
 * line ends are CRLF, LF or CR (a CRLF split across chunks is one line end). Pure and allocation-free.
 */
export class SseBoundary {
  /** True at the start of the stream and right after an empty line (the end of an event). */
  atBoundary = true;
  private lineEmpty = true;
  private lastWasCR = false;

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === LF) {
        if (this.lastWasCR) {
          this.lastWasCR = false;
          continue;
        }
        this.endLine();
      } else if (b === CR) {
        this.endLine();
        this.lastWasCR = true;
      } else {
        this.lastWasCR = false;
        this.lineEmpty = false;
        this.atBoundary = false;
      }
    }
  }

  /** Record that a heartbeat (`:\n\n`) was written: the client is at a fresh line, between events. */
  heartbeatWritten(): void {
    this.atBoundary = true;
    this.lineEmpty = true;
    this.lastWasCR = false;
  }

  private endLine(): void {
    if (this.lineEmpty) this.atBoundary = true;
    else this.lineEmpty = true;
  }
}

/** The heartbeat: an SSE comment line and the empty line after it. */
export const HEARTBEAT = Buffer.from(":\n\n");
