import { type ChildProcess, spawn } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { publish } from "../observability/events.js";
import { hashId } from "../observability/hash.js";
import { childEnvironment, type LaunchLimits, type LaunchTools, launchArgv } from "./launch-plan.js";
import { StderrLog } from "./stderr-log.js";

/** A JSON-RPC message as a stdio server reads and writes it. */
export type Message = Record<string, unknown> & { id?: unknown; method?: string; params?: Record<string, unknown> };

/** What every process of one `host` is started with. */
export interface LaunchSpec {
  command: string;
  args: readonly string[];
  /** `NAME` or `NAME=VALUE` entries (`--env`). */
  env: readonly string[];
  /** Where each process's own working directory is made (a new one per process, removed after it). */
  workRoot: string;
  uid?: number | undefined;
  gid?: number | undefined;
  limits: LaunchLimits;
  tools: LaunchTools;
  /** A line longer than this on stdout ends the process: it is not speaking MCP's stdio transport. */
  maxLineBytes: number;
}

/** Records each process group (`orphans.ts`), so that a restart of `host` after a crash ends what it left. */
export interface GroupLedger {
  add(pid: number): void;
  remove(pid: number): void;
}

/** Time a process is given to exit after SIGTERM before its whole group gets SIGKILL. */
const GRACE_MS = 2000;

/**
 * One stdio server process: newline-delimited JSON-RPC on its stdin and stdout (MCP's stdio transport),
 * in a process group of its own (every process it starts is ended with it), with only the environment
 * it was allowed, its own working directory, and its stderr going to the log line by line.
 */
export class StdioChild {
  readonly pid: number;
  /** When it was started, or put to work (`serve`) if later: its start-up time counts from there. */
  private since = performance.now();
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Settles once the process exited and what it held was released: whether it crashed (`host` did not end it). */
  readonly ended: Promise<boolean>;
  role: "session" | "pool" | "spare";
  /** Hash of the session it serves, for logs. */
  session: string | undefined;
  /** Set once `end()` was called: an exit after it is no crash. */
  private ending = false;
  private alive = true;
  private readonly proc: ChildProcess;
  private readonly workdir: string;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readyPublished = false;

  /** Each message the process writes to stdout. */
  onMessage: (m: Message) => void = () => {};
  /** A stdout line that is not a JSON-RPC message (the process is misbehaving). */
  onGarbage: (why: string) => void = () => {};
  /** The process exited, for whatever reason. */
  onExit: (crashed: boolean) => void = () => {};

  constructor(
    spec: LaunchSpec,
    role: "session" | "pool" | "spare",
    private readonly ledger: GroupLedger,
  ) {
    this.role = role;
    this.workdir = mkdtempSync(join(spec.workRoot, "proc-"));
    if (spec.uid !== undefined) chownSync(this.workdir, spec.uid, spec.gid ?? -1);
    const env = childEnvironment(spec.env, process.env, this.workdir);
    const { file, args } = launchArgv(spec.command, spec.args, spec.limits, spec.tools);
    this.proc = spawn(file, args, {
      cwd: this.workdir,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: ended as a whole (`kill(-pid)`), never by a signal meant for `host`.
      detached: true,
      ...(spec.uid === undefined ? {} : { uid: spec.uid }),
      ...(spec.gid === undefined ? {} : { gid: spec.gid }),
    });
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => resolve({ code, signal }));
      // Not started at all (no such program, no permission): an exit as any other.
      this.proc.once("error", () => resolve({ code: null, signal: null }));
    });
    this.pid = this.proc.pid ?? -1;
    if (this.pid > 0) ledger.add(this.pid);
    const stderr = new StderrLog((line, dropped) =>
      publish("process", {
        event: "stderr",
        child: this.pid,
        role: this.role,
        session: this.session,
        ...(line === undefined ? { dropped } : { line }),
      }),
    );
    this.proc.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    this.proc.stdout?.on("data", (chunk: Buffer) => this.read(chunk, spec.maxLineBytes));
    // A process that stops reading (or exits) makes writes fail: that is its exit, handled below.
    this.proc.stdin?.on("error", () => {});
    this.proc.stdout?.on("error", () => {});
    this.proc.stderr?.on("error", () => {});
    publish("process", { event: "started", child: this.pid, role });
    this.ended = this.exited.then(({ code, signal }) => {
      this.alive = false;
      stderr.flush();
      if (this.pid > 0) {
        // Whatever it started and left in its group goes with it.
        signalGroup(this.pid, "SIGKILL");
        this.ledger.remove(this.pid);
      }
      rmSync(this.workdir, { recursive: true, force: true });
      const crashed = !this.ending;
      publish("process", {
        event: "exited",
        child: this.pid,
        role: this.role,
        session: this.session,
        code,
        signal,
        crashed,
      });
      this.onExit(crashed);
      return crashed;
    });
  }

  get running(): boolean {
    return this.alive && !this.ending;
  }

  /** Bytes written to stdin that the process has not read yet. */
  get backlog(): number {
    return this.proc.stdin?.writableLength ?? 0;
  }

  /** Write one message to the process's stdin. */
  send(message: Message | string): void {
    if (!this.alive) return;
    const text = typeof message === "string" ? message : JSON.stringify(message);
    this.proc.stdin?.write(`${text}\n`);
  }

  /** The process answered its first request: its start-up time, said once. */
  ready(): void {
    if (this.readyPublished) return;
    this.readyPublished = true;
    const startupMs = performance.now() - this.since;
    publish("process", { event: "ready", child: this.pid, role: this.role, session: this.session, startupMs });
  }

  /** The session it now serves (its id hashed for the logs). */
  serve(role: "session" | "pool", sessionId?: string): void {
    this.role = role;
    this.since = performance.now();
    this.session = sessionId === undefined ? undefined : hashId(sessionId);
  }

  /**
   * End it: stdin closed (a stdio server's signal to stop), SIGTERM to its group, and SIGKILL to the
   * group if it is still there after the grace period. Resolves once it exited.
   */
  async end(): Promise<void> {
    if (this.ending || !this.alive) return;
    this.ending = true;
    this.proc.stdin?.end();
    signalGroup(this.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Split stdout into lines, each a JSON-RPC message (a stdio server writes nothing else there). */
  private read(chunk: Buffer, maxLineBytes: number): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      const line =
        this.bufferedBytes === 0 ? piece : Buffer.concat([...this.buffered, piece], this.bufferedBytes + piece.length);
      this.buffered = [];
      this.bufferedBytes = 0;
      start = nl + 1;
      this.line(line);
    }
    if (start < chunk.length) {
      this.buffered.push(chunk.subarray(start));
      this.bufferedBytes += chunk.length - start;
      if (this.bufferedBytes > maxLineBytes) {
        this.buffered = [];
        this.bufferedBytes = 0;
        this.onGarbage(`a stdout line longer than ${maxLineBytes} bytes`);
      }
    }
  }

  private line(bytes: Buffer): void {
    const text = bytes.toString("utf8").trim();
    if (text === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.onGarbage("a stdout line that is not JSON");
      return;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      this.onGarbage("a stdout line that is not one JSON-RPC message");
      return;
    }
    this.onMessage(parsed as Message);
  }
}

/** Signal a whole process group; a group already gone is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {}
}
