import type { ModernPool } from "./modern-pool.js";
import type { Processes } from "./processes.js";
import type { HostSession } from "./session.js";
import type { SseSession } from "./sse-session.js";
import type { LaunchSpec } from "./stdio-child.js";

/** Everything `switchyard host` is told (`cli/host.ts` reads it from its flags). */
export interface HostOptions {
  /** `HOST:PORT` to listen on. */
  listen: string;
  launch: LaunchSpec;
  /** Warm processes for modern-era requests (`--pool`). */
  pool: number;
  /** Processes at most, sessions, pool and spare together (`--max-processes`). */
  maxProcesses: number;
  /** Keep one process started ahead for the next session (`--no-spare` turns it off). */
  spare: boolean;
  startTimeoutMs: number;
  /** A pooled process's time to answer a request before it is replaced. */
  requestTimeoutMs: number;
  /** A session with no request and no open stream for this long is ended (`--idle-ttl`). */
  idleTtlMs: number;
  heartbeatMs: number;
  maxBodyBytes: number;
  /** Where the process groups are recorded (`--state-dir`): one `host` per directory. */
  stateDir: string;
}

/** What the endpoints of one running `host` share. */
export interface HostState {
  readonly options: HostOptions;
  readonly processes: Processes;
  readonly pool: ModernPool;
  /** Legacy Streamable HTTP sessions, by id. */
  readonly sessions: Map<string, HostSession>;
  /** HTTP+SSE sessions, by id. */
  readonly sseSessions: Map<string, SseSession>;
  closing: boolean;
}
