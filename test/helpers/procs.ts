import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

/** The built CLI, exactly as `npx switchyard` runs it. */
export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const live = new Set<ChildProcess>();

/** How long `stop()` waits for a process to end on its signal before it kills it. */
const STOP_DEADLINE_MS = 30_000;

/**
 * Each managed process leads a process group of its own, so that whatever it started (nginx's workers, the
 * demo's replicas) goes with it: SIGKILL is sent to the whole group.
 */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/**
 * Under the test command, each process group started here is recorded for its check that nothing outlives
 * the run (`scripts/leftovers.mjs`): some servers overwrite the environment that would otherwise tell.
 */
function recordGroup(child: ChildProcess): void {
  const pidFile = process.env.SWITCHYARD_TEST_RUN; // the run's id is its pid file's path
  if (pidFile && child.pid !== undefined) appendFileSync(pidFile, `${child.pid}\n`);
}

/** Kill every process this file still owns and wait until each is gone. */
export async function stopAllManaged(): Promise<void> {
  const waits = [...live].map((child) => {
    const gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, "exit");
    killGroup(child, "SIGKILL");
    return gone;
  });
  await Promise.all(waits);
}

// The test file's last hook: whatever a failed `before` or a forgotten `after` left behind is stopped,
// even when those processes' pipes would keep the event loop (and so the file) alive forever. Only under
// the test runner (the bench imports this file too).
if (process.env.NODE_TEST_CONTEXT) after(stopAllManaged);
process.on("exit", () => {
  for (const child of live) killGroup(child, "SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of live) killGroup(child, "SIGKILL");
    process.exit(130);
  });
}

export interface Managed {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr: string[];
  /** Resolves with the first stdout line (now or later) that the predicate accepts (30 s: a busy 2-core machine). */
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /**
   * SIGTERM (or the given signal) to the process; SIGKILL goes to its whole group (a crash takes its
   * workers with it). Resolves with the exit code once the process is gone.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Spawn a process that this test file owns: it is killed when the file ends, whatever happens. */
export function spawnManaged(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Managed {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT; // a child is no test file of the runner's
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: childEnv, detached: true });
  live.add(child);
  recordGroup(child);
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ predicate: (l: string) => boolean; resolve: (l: string) => void }> = [];
  createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on("line", (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.predicate(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr as NonNullable<typeof child.stderr> }).on("line", (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? (signal ? -1 : null));
    });
  });
  return {
    child,
    lines,
    stderr,
    exited,
    waitForLine(predicate, timeoutMs = 30_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for output; ${tail(lines, stderr)}`)),
          timeoutMs,
        );
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before the expected output; ${tail(lines, stderr)}`));
        });
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      if (signal === "SIGKILL") {
        killGroup(child, signal);
        return exited;
      }
      child.kill(signal);
      // A process a test stopped (SIGSTOP) and did not resume, on a failure, would never see the signal.
      child.kill("SIGCONT");
      // A process that does not end within the deadline is killed, and says so: a hung shutdown fails the
      // test that waits for it instead of hanging the whole file.
      const deadline = setTimeout(() => {
        process.stderr.write(
          `# ${command} ${args[0] ?? ""}: still running ${STOP_DEADLINE_MS} ms after ${signal}; killed\n`,
        );
        killGroup(child, "SIGKILL");
      }, STOP_DEADLINE_MS);
      return exited.finally(() => clearTimeout(deadline));
    },
  };
}

function tail(lines: string[], stderr: string[]): string {
  return `stdout: ${lines.slice(-10).join("\n")}\nstderr: ${stderr.slice(-20).join("\n")}`;
}

/**
 * Start several processes at once; if any start fails, stop those that did start before rethrowing (a
 * half-started topology never outlives the hook that failed).
 */
export async function startAll<T extends { stop(signal?: NodeJS.Signals): Promise<unknown> }>(
  starts: Array<Promise<T>>,
): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  await Promise.all(
    settled.map((s) => (s.status === "fulfilled" ? s.value.stop("SIGKILL").catch(() => {}) : undefined)),
  );
  throw failed.reason;
}

/** Anything a test starts and must stop again: a process, a proxy, a cluster. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/**
 * What a test file (or a helper) started, to be stopped in its `after`. Every start is registered as it
 * begins, so a `before` that throws half-way leaks nothing: `stopAll` first waits for the starts still
 * under way (a sibling of a failed `Promise.all`), then stops everything that came up, the last started
 * first (a proxy before its gateways, gateways before their replicas and Redis). Stopping something that
 * has already exited is harmless.
 */
export function owned() {
  const starts: Array<Promise<Stoppable>> = [];
  return {
    own<T extends Stoppable>(start: Promise<T> | T): Promise<T> {
      const p = Promise.resolve(start);
      starts.push(p);
      return p;
    },
    async stopAll(): Promise<void> {
      const settled = await Promise.allSettled(starts.splice(0));
      for (const s of settled.reverse()) {
        if (s.status === "fulfilled") await s.value.stop().catch(() => {});
      }
    },
  };
}

function listeningUrl(line: string): string | undefined {
  try {
    const msg = JSON.parse(line) as { msg?: string; url?: string };
    return msg.msg === "listening" ? msg.url : undefined;
  } catch {
    return undefined;
  }
}

export interface Replica extends Managed {
  /** Streamable HTTP endpoint. */
  url: string;
  /** HTTP+SSE stream URL. */
  sseUrl: string;
  name: string;
}

/** What an example replica was asked (`GET /_example/seen`): requests by hashed session and by user agent. */
export interface Seen {
  sessions: Record<string, number>;
  userAgents: Record<string, number>;
  /** Requests by the `Authorization` they carried, hashed (`hashId`), or "none". */
  authorization: Record<string, number>;
  /** Requests by the audience of the JWT bearer token they carried. */
  tokenAudiences: Record<string, number>;
}

export interface ExampleReplica extends Replica {
  /** What this replica has been asked so far. */
  seen(): Promise<Seen>;
  /** How many requests named this session (its hash, as the `whoami` tool reports it). */
  sawSession(sessionHash: string): Promise<number>;
}

/**
 * One replica of the bundled SDK example server, as a real child process. `unknownSessions` says what a
 * session id it does not know gets: 404 (default), 400 (as server-everything answers) or `accept` (served
 * anyway: a request moved to it silently would succeed, so only the gateway's own 404 can fail a test).
 */
export async function startReplica(
  name: string,
  listen = "127.0.0.1:0",
  options: { unknownSessions?: "404" | "400" | "accept" } = {},
): Promise<ExampleReplica> {
  const proc = spawnManaged(process.execPath, [
    CLI,
    "example-server",
    "--listen",
    listen,
    "--name",
    name,
    "--unknown-sessions",
    options.unknownSessions ?? "404",
  ]);
  const line = await proc.waitForLine((l) => listeningUrl(l) !== undefined);
  const { sseUrl } = JSON.parse(line) as { sseUrl: string };
  const url = listeningUrl(line) as string;
  const seen = async () => (await (await fetch(new URL("/_example/seen", url))).json()) as Seen;
  return Object.assign(proc, {
    url,
    sseUrl,
    name,
    seen,
    sawSession: async (sessionHash: string) => (await seen()).sessions[sessionHash] ?? 0,
  });
}

/** One replica of the SDK v2 dual-era fixture server (`test/fixtures/dual-era-server.ts`). */
export async function startDualEra(name: string, extra: string[] = []): Promise<Replica> {
  const fixture = fileURLToPath(new URL("../fixtures/dual-era-server.ts", import.meta.url));
  const proc = spawnManaged(process.execPath, ["--import", "tsx", fixture, "--name", name, ...extra]);
  const line = await proc.waitForLine((l) => listeningUrl(l) !== undefined);
  return Object.assign(proc, { url: listeningUrl(line) as string, sseUrl: "", name });
}

/**
 * One replica of the SDK fixture whose session ids begin with its name (`r1.<uuid>`):
 * `test/fixtures/prefixed-session-server.ts`.
 */
export async function startPrefixed(name: string, extra: string[] = []): Promise<Managed & { url: string }> {
  const fixture = fileURLToPath(new URL("../fixtures/prefixed-session-server.ts", import.meta.url));
  const proc = spawnManaged(process.execPath, ["--import", "tsx", fixture, "--name", name, ...extra]);
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  return Object.assign(proc, { url: (JSON.parse(line) as { url: string }).url });
}

export interface GatewayProc extends Managed {
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** MCP URL of a route. */
  route(name: string): string;
  /** `http://HOST:PORT` of its operations listener (`ops.listen`), when it has one. */
  ops: string | undefined;
}

/** Write a YAML config file into a fresh temporary directory. */
export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "swy-"));
  const file = join(dir, "switchyard.yaml");
  writeFileSync(file, yaml);
  return file;
}

/**
 * A config file with route `svc` served by `replicas` (quiet logs), plus `extra` top-level YAML.
 * `routeExtra` adds keys under the route (e.g. `balancer: round-robin`).
 */
export function svcConfig(replicas: Array<{ url: string }>, extra = "", routeExtra = ""): string {
  const route = routeExtra ? `\n    ${routeExtra}` : "";
  return writeConfig(
    `logLevel: warn\nupstreams:\n  svc:\n    replicas: [${replicas.map((r) => r.url).join(", ")}]${route}\n${extra}`,
  );
}

/** `switchyard serve ...` as a real child process on a free port. */
export async function startGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<GatewayProc> {
  const hasListen = args.includes("--listen");
  const proc = spawnManaged(
    process.execPath,
    [CLI, "serve", ...(hasListen ? [] : ["--listen", "127.0.0.1:0"]), ...args],
    env,
  );
  const line = await proc.waitForLine((l) => listeningUrl(l) !== undefined);
  const base = listeningUrl(line) as string;
  const { ops } = JSON.parse(line) as { ops?: string };
  return Object.assign(proc, { base, ops, route: (name: string) => `${base}/${name}/mcp` });
}

/** What a server that could not bind its port says: another process took it since `freePort()`. */
const ADDRESS_IN_USE = /EADDRINUSE|address already in use/i;

/**
 * Start a server that cannot listen on port 0 and report its port (redis-server, server-everything) on a
 * port that was free a moment ago — and on another one if a test file running beside this one took it in
 * between (the start failed with "address in use").
 */
export async function startOnFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !ADDRESS_IN_USE.test(String(err))) throw err;
    }
  }
}

/** A port that was free a moment ago (for servers that cannot listen on port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Resident memory of a process in bytes (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb) * 1024;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
