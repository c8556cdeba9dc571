import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { routesWithoutAudience } from "../auth/route-auth.js";
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
  /** A count, or `auto`. */
  workers?: string | undefined;
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

/** A secret from a mounted file: its content, without the trailing newline an editor or `echo` adds. */
function secretFrom(file: unknown, key: string): string {
  if (typeof file !== "string") throw new ConfigError(`${key}: must be a file path`);
  try {
    return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => v !== null && typeof v === "object" && !Array.isArray(v);

/** `KEYFile` beside `KEY` in `obj`: the value read from the file (both at once is an error). */
function fileVariant(obj: unknown, key: string, where: string): void {
  if (!isObject(obj) || obj[`${key}File`] === undefined) return;
  if (obj[key] !== undefined) throw new ConfigError(`${where}.${key}: give ${key} or ${key}File, not both`);
  obj[key] = secretFrom(obj[`${key}File`], `${where}.${key}File`);
}

/**
 * Every secret option may come from a mounted file (`…File`) or the environment instead of the file
 * itself: `metrics.token`, `admin.token` and `admin.readToken`, `store.password` (and the sentinels'), `tokens.keys`, the introspection client's
 * secret, and the values of `upstreams.NAME.headers` (`headerFiles`). Read at every load, so a reload picks up a rotated secret.
 */
function resolveSecrets(input: Raw): void {
  const metricsToken = process.env.SWITCHYARD_METRICS_TOKEN;
  if (metricsToken !== undefined && !(isObject(input.metrics) && input.metrics.token !== undefined)) {
    input.metrics = { ...(isObject(input.metrics) ? input.metrics : {}), token: metricsToken };
  }
  const keys = process.env.SWITCHYARD_TOKEN_KEYS;
  if (keys !== undefined && !(isObject(input.tokens) && input.tokens.keys !== undefined)) {
    const parsed = keys.split(",").map((pair) => {
      const colon = pair.indexOf(":");
      return { id: Number(pair.slice(0, colon).trim()), secret: pair.slice(colon + 1).trim() };
    });
    input.tokens = { ...(isObject(input.tokens) ? input.tokens : {}), keys: parsed };
  }
  fileVariant(input.metrics, "token", "metrics");
  fileVariant(input.admin, "token", "admin");
  fileVariant(input.admin, "readToken", "admin");
  fileVariant(input.store, "password", "store");
  if (isObject(input.store)) fileVariant(input.store.sentinel, "password", "store.sentinel");
  if (isObject(input.tokens) && Array.isArray(input.tokens.keys)) {
    for (const [i, key] of input.tokens.keys.entries()) fileVariant(key, "secret", `tokens.keys.${i}`);
  }
  if (isObject(input.auth)) fileVariant(input.auth.introspection, "clientSecret", "auth.introspection");
  const otlp = isObject(input.tracing) ? input.tracing.otlp : undefined;
  if (isObject(otlp) && isObject(otlp.headerFiles)) {
    const headers: Raw = { ...(isObject(otlp.headers) ? otlp.headers : {}) };
    for (const [header, file] of Object.entries(otlp.headerFiles)) {
      if (headers[header] !== undefined)
        throw new ConfigError(`tracing.otlp.headerFiles.${header}: also in headers (give one)`);
      headers[header] = secretFrom(file, `tracing.otlp.headerFiles.${header}`);
    }
    otlp.headers = headers;
  }
  if (isObject(input.upstreams)) {
    for (const [name, upstream] of Object.entries(input.upstreams)) {
      if (isObject(upstream) && isObject(upstream.auth)) {
        fileVariant(upstream.auth.introspection, "clientSecret", `upstreams.${name}.auth.introspection`);
      }
      if (isObject(upstream) && isObject(upstream.upstreamAuth)) {
        fileVariant(upstream.upstreamAuth.exchange, "clientSecret", `upstreams.${name}.upstreamAuth.exchange`);
      }
      if (!isObject(upstream) || !isObject(upstream.headerFiles)) continue;
      const headers: Raw = { ...(isObject(upstream.headers) ? upstream.headers : {}) };
      for (const [header, file] of Object.entries(upstream.headerFiles)) {
        if (headers[header] !== undefined) {
          throw new ConfigError(`upstreams.${name}.headerFiles.${header}: also in headers (give one)`);
        }
        headers[header] = secretFrom(file, `upstreams.${name}.headerFiles.${header}`);
      }
      upstream.headers = headers;
    }
  }
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
  if (flags.workers !== undefined) input.workers = flags.workers === "auto" ? "auto" : Number(flags.workers);
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
  resolveSecrets(input);
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
  const unchecked = routesWithoutAudience(result.data);
  if (unchecked.length > 0) {
    throw new ConfigError(
      `invalid configuration (${options.file ?? "flags"}):\n${unchecked.map((r) => `  upstreams.${r}.auth.audience: required (or set publicUrl): a token's audience is checked against it`).join("\n")}`,
    );
  }
  return result.data;
}
