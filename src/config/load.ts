import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { type Config, type ConfigInput, configSchema, ROUTE_NAME } from "./schema.js";

/** A configuration that cannot start the gateway. The message names the key and what is wrong. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Options given on the command line; they override the file. */
export interface ConfigFlags {
  listen?: string | undefined;
  logLevel?: string | undefined;
  /** `memory` or `redis://...` */
  store?: string | undefined;
  adminToken?: string | undefined;
  /** `NAME=URL[,URL...]`, repeatable. */
  upstream?: string[] | undefined;
}

function formatIssues(issues: z.core.$ZodIssue[], source: string): string {
  const lines = issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const where = path ? `${path}.` : "";
      return issue.keys.map((k) => `  ${where}${k}: unknown key (misspelled, or renamed?)`).join("\n");
    }
    return `  ${path || "(top level)"}: ${issue.message}`;
  });
  return `invalid configuration (${source}):\n${lines.join("\n")}`;
}

/** Parse `NAME=URL[,URL...]`. */
export function parseUpstreamFlag(flag: string): [string, string[]] {
  const eq = flag.indexOf("=");
  const name = eq > 0 ? flag.slice(0, eq) : "";
  if (!ROUTE_NAME.test(name)) {
    throw new ConfigError(`--upstream ${flag}: expected NAME=URL[,URL...] with NAME of [A-Za-z0-9._-]`);
  }
  const urls = flag
    .slice(eq + 1)
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length === 0) throw new ConfigError(`--upstream ${flag}: no replica URL`);
  return [name, urls];
}

/**
 * `sse+http://` and `sse+https://` replica URLs (and `dns+sse+`, `dns+srv+sse+`) name the HTTP+SSE
 * transport: strip the marker and set `transport: sse`. All replicas of a route speak the same transport.
 */
const SSE_MARKER = /^((?:dns\+(?:srv\+)?)?)sse\+(?=https?:\/\/)/i;

function sseScheme(name: string, upstream: unknown): unknown {
  if (!upstream || typeof upstream !== "object") return upstream;
  const u = upstream as { replicas?: unknown; transport?: unknown };
  if (!Array.isArray(u.replicas)) return upstream;
  const prefixed = u.replicas.filter((r) => typeof r === "string" && SSE_MARKER.test(r));
  if (prefixed.length === 0) return upstream;
  if (prefixed.length !== u.replicas.length || (u.transport !== undefined && u.transport !== "sse")) {
    throw new ConfigError(`upstreams.${name}: every replica of a route speaks the same transport (sse+http:// or not)`);
  }
  return { ...u, transport: "sse", replicas: u.replicas.map((r: string) => r.replace(SSE_MARKER, "$1")) };
}

function readFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
}

/** File, then flags over it, then the schema's defaults; validated. */
export function loadConfig(options: { file?: string | undefined; flags?: ConfigFlags } = {}): Config {
  const fromFile = options.file ? readFile(options.file) : {};
  if (fromFile === null || typeof fromFile !== "object" || Array.isArray(fromFile)) {
    throw new ConfigError(`config file ${options.file}: the top level must be a mapping of keys`);
  }
  const input = structuredClone(fromFile) as ConfigInput & Record<string, unknown>;
  const flags = options.flags ?? {};
  if (flags.listen !== undefined) input.listen = flags.listen;
  if (flags.logLevel !== undefined) input.logLevel = flags.logLevel as ConfigInput["logLevel"];
  const adminToken = flags.adminToken ?? process.env.SWITCHYARD_ADMIN_TOKEN;
  if (adminToken !== undefined) input.admin = { ...(input.admin ?? {}), token: adminToken };
  if (flags.store !== undefined) input.store = { ...(input.store ?? {}), url: flags.store };
  if (flags.upstream?.length) {
    const upstreams = { ...(input.upstreams ?? {}) };
    for (const flag of flags.upstream) {
      const [name, replicas] = parseUpstreamFlag(flag);
      upstreams[name] = { ...(upstreams[name] ?? {}), replicas };
    }
    input.upstreams = upstreams;
  }
  if (input.upstreams && typeof input.upstreams === "object") {
    const upstreams = input.upstreams as Record<string, unknown>;
    for (const [name, upstream] of Object.entries(upstreams)) {
      upstreams[name] = sseScheme(name, upstream);
    }
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(formatIssues(result.error.issues, options.file ?? "flags"));
  }
  return result.data;
}
