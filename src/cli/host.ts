import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { envEntries, type HostConfig, hostSchema } from "../config/host-schema.js";
import { duration, size } from "../config/units.js";
import type { HostOptions } from "../host/host-state.js";
import { createHost } from "../host/server.js";
import { attachLogger, type LogLevel } from "../observability/logger.js";
import { fail, onShutdown } from "./serve.js";

export interface HostCliOptions {
  listen: string;
  pool?: string;
  maxProcesses?: string;
  spare: boolean;
  startTimeout?: string;
  requestTimeout?: string;
  idleTtl?: string;
  env: string[];
  workdir?: string;
  user?: string;
  group?: string;
  maxMemory?: string;
  maxCpuSeconds?: string;
  stateDir?: string;
  heartbeat: string;
  maxBody: string;
  logLevel: LogLevel;
}

/** A program on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return undefined;
}

/** A user or group, by name or number, as its id (`id -u`, `getent group`). */
function resolveId(kind: "user" | "group", value: string | number): number {
  if (typeof value === "number" || /^\d+$/.test(value)) return Number(value);
  try {
    const out =
      kind === "user"
        ? execFileSync("id", ["-u", value], { encoding: "utf8" })
        : (execFileSync("getent", ["group", value], { encoding: "utf8" }).split(":")[2] ?? "");
    const id = Number(out.trim());
    if (Number.isInteger(id)) return id;
  } catch {}
  throw new Error(`no such ${kind}: ${value}`);
}

/** The primary group of a user. */
function groupOfUser(user: string | number): number {
  return Number(execFileSync("id", ["-g", String(user)], { encoding: "utf8" }).trim());
}

/**
 * What `host` is told: the configuration (from `--flags` or `upstreams.NAME.host`) and the command,
 * resolved against this machine (users, util-linux tools, directories).
 */
export function hostOptions(
  config: HostConfig,
  run: { listen: string; command: string; args: string[]; env: string[]; stateDir?: string | undefined },
  extra: { heartbeatMs: number; maxBodyBytes: number },
): HostOptions {
  const uid = config.user === undefined ? undefined : resolveId("user", config.user);
  const gid =
    config.group !== undefined
      ? resolveId("group", config.group)
      : config.user !== undefined
        ? groupOfUser(config.user)
        : undefined;
  const workRoot = config.workdir ?? mkdtempSync(join(tmpdir(), "switchyard-host-"));
  const stateDir =
    run.stateDir ?? join(tmpdir(), `switchyard-host-state-${run.listen.replace(/[^A-Za-z0-9.-]/g, "_")}`);
  return {
    listen: run.listen,
    launch: {
      command: run.command,
      args: run.args,
      env: run.env,
      workRoot,
      uid,
      gid,
      limits: { maxMemoryBytes: config.maxMemory, maxCpuSeconds: config.maxCpuSeconds },
      tools: { setpriv: onPath("setpriv"), prlimit: onPath("prlimit") },
      maxLineBytes: 16 * 1024 * 1024,
    },
    pool: config.pool,
    maxProcesses: config.maxProcesses,
    spare: config.spare,
    startTimeoutMs: config.startTimeout,
    requestTimeoutMs: config.requestTimeout,
    idleTtlMs: config.idleTtl,
    heartbeatMs: extra.heartbeatMs,
    maxBodyBytes: extra.maxBodyBytes,
    stateDir,
  };
}

export async function runHost(command: string[], cli: HostCliOptions): Promise<void> {
  if (command.length === 0) fail("host needs the server's command after `--`, e.g. switchyard host -- npx -y SERVER");
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const parsed = hostSchema.safeParse({
    pool: num(cli.pool),
    maxProcesses: num(cli.maxProcesses),
    spare: cli.spare,
    startTimeout: cli.startTimeout,
    requestTimeout: cli.requestTimeout,
    idleTtl: cli.idleTtl,
    maxMemory: cli.maxMemory,
    maxCpuSeconds: num(cli.maxCpuSeconds),
    user: cli.user,
    group: cli.group,
    workdir: cli.workdir,
  });
  if (!parsed.success) fail(parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; "));
  const heartbeat = duration.safeParse(cli.heartbeat);
  const maxBody = size.safeParse(cli.maxBody);
  if (!heartbeat.success || !maxBody.success) fail("--heartbeat takes a duration (15s), --max-body a size (4MiB)");
  const env = envEntries.safeParse(cli.env);
  if (!env.success) fail(`--env: ${env.error.issues.map((i) => i.message).join("; ")}`);
  attachLogger(cli.logLevel);
  let options: HostOptions;
  try {
    options = hostOptions(
      parsed.data,
      {
        listen: cli.listen,
        command: command[0] as string,
        args: command.slice(1),
        env: cli.env,
        stateDir: cli.stateDir,
      },
      { heartbeatMs: heartbeat.data, maxBodyBytes: maxBody.data },
    );
  } catch (err) {
    fail((err as Error).message);
  }
  const host = createHost(options);
  try {
    await host.listen();
  } catch (err) {
    fail(`cannot start: ${(err as Error).message}`);
  }
  onShutdown(() => host.close());
}
