/**
 * How `switchyard host` starts a stdio server's process: the environment it gets (only what was allowed),
 * and the command line that applies the limits this system can enforce. Pure.
 */

/** What an operator allows and limits, from `--env`, `--max-memory`, `--max-cpu-seconds`. */
export interface LaunchLimits {
  /** RLIMIT_DATA: the process's private writable memory (its heap grows there), in bytes. */
  maxMemoryBytes?: number | undefined;
  /** RLIMIT_CPU: seconds of CPU the process may use in its life (SIGKILL past it). */
  maxCpuSeconds?: number | undefined;
}

/** The util-linux programs that apply what Node's `spawn` cannot (absent: that protection is not applied). */
export interface LaunchTools {
  /** `setpriv --pdeathsig KILL`: the process is killed when `host` dies, even by SIGKILL. */
  setpriv?: string | undefined;
  /** `prlimit`: resource limits set before the command runs. */
  prlimit?: string | undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `NAME` or `NAME=VALUE`; an error message for anything else. */
export function parseEnvEntry(entry: string): { name: string; value?: string } | { error: string } {
  const eq = entry.indexOf("=");
  const name = eq < 0 ? entry : entry.slice(0, eq);
  if (!ENV_NAME.test(name)) return { error: `--env ${entry}: not NAME or NAME=VALUE` };
  return eq < 0 ? { name } : { name, value: entry.slice(eq + 1) };
}

/**
 * The child's environment: each `NAME` with the host's value (if it has one), each `NAME=VALUE` as
 * given — and nothing else of the host's, but `PATH` (where commands are found; never a secret) unless
 * named. `HOME` is the process's own working directory unless named: tools that write under `~` stay in it.
 */
export function childEnvironment(
  allowed: readonly string[],
  hostEnv: Readonly<Record<string, string | undefined>>,
  workdir: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (hostEnv.PATH !== undefined) env.PATH = hostEnv.PATH;
  env.HOME = workdir;
  for (const entry of allowed) {
    const parsed = parseEnvEntry(entry);
    if ("error" in parsed) throw new Error(parsed.error);
    if (parsed.value !== undefined) env[parsed.name] = parsed.value;
    else if (hostEnv[parsed.name] !== undefined) env[parsed.name] = hostEnv[parsed.name] as string;
    else delete env[parsed.name];
  }
  return env;
}

/**
 * The program and arguments to spawn: the command, behind `setpriv` (killed with its parent) and
 * `prlimit` (the limits) where those are available.
 */
export function launchArgv(
  command: string,
  args: readonly string[],
  limits: LaunchLimits,
  tools: LaunchTools,
): { file: string; args: string[] } {
  let argv = [command, ...args];
  const rlimits: string[] = [];
  if (limits.maxMemoryBytes !== undefined) rlimits.push(`--data=${limits.maxMemoryBytes}`);
  if (limits.maxCpuSeconds !== undefined) rlimits.push(`--cpu=${limits.maxCpuSeconds}`);
  if (rlimits.length > 0) {
    if (tools.prlimit === undefined) throw new Error("memory and CPU limits need prlimit (util-linux), not found");
    argv = [tools.prlimit, ...rlimits, "--", ...argv];
  }
  if (tools.setpriv !== undefined) argv = [tools.setpriv, "--pdeathsig", "KILL", "--", ...argv];
  return { file: argv[0] as string, args: argv.slice(1) };
}
