import { z } from "zod";
import { durationOption, size } from "./units.js";

const ENV_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/s;

/** Environment entries a hosted stdio server gets: `NAME` (the host's value) or `NAME=VALUE`. */
export const envEntries = z
  .array(z.string().regex(ENV_ENTRY, "must be NAME or NAME=VALUE"))
  .default([])
  .describe(
    "The only environment variables the server's processes get: `NAME` (with this machine's value) or `NAME=VALUE`. `PATH` is passed unless named; `HOME` is each process's own directory unless named.",
  );

/**
 * How `switchyard host` runs a stdio server's processes: the flags of `switchyard host`, and
 * `upstreams.NAME.host` for a route that runs its own (`command`).
 */
export const hostSchema = z
  .strictObject({
    pool: z
      .number()
      .int()
      .min(0)
      .max(256)
      .default(2)
      .describe("Warm processes that serve modern-era (2026-07-28, stateless) requests, one request at a time each."),
    maxProcesses: z
      .number()
      .int()
      .positive()
      .default(32)
      .describe(
        "Processes at most (sessions, pool and spare together); a new session past it gets 503 with `Retry-After`.",
      ),
    spare: z
      .boolean()
      .default(true)
      .describe("Keep one process started ahead, so that a new session does not wait for the program to start."),
    startTimeout: durationOption(
      "10s",
      "A new process's time to answer its first request (`initialize`); else it is ended (504).",
    ),
    requestTimeout: durationOption(
      "5m",
      "A pooled process's time to answer a modern-era request; past it the client gets an error and the process is replaced.",
    ),
    idleTtl: durationOption(
      "1h",
      "A session with no request and no open stream for this long ends, and its process with it.",
    ),
    maxMemory: size
      .optional()
      .meta({ title: "size" })
      .describe(
        "Each process's private writable memory (RLIMIT_DATA, set with `prlimit`): allocations past it fail. Unset: no limit.",
      ),
    maxCpuSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Seconds of CPU each process may use in its life (RLIMIT_CPU): killed past it. Unset: no limit."),
    user: z
      .union([z.string().min(1), z.number().int().nonnegative()])
      .optional()
      .describe("Run the processes as this user (name or uid); needs `host` to run as root."),
    group: z
      .union([z.string().min(1), z.number().int().nonnegative()])
      .optional()
      .describe("…and this group (name or gid; default: the user's own group)."),
    workdir: z
      .string()
      .optional()
      .describe(
        "Where each process gets a new working directory of its own (removed after it); default: a temporary directory.",
      ),
  })
  .describe("How a stdio server's processes are run (`switchyard host`).");

export type HostConfig = z.output<typeof hostSchema>;
