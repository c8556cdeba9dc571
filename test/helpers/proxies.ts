import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch as undiciFetch } from "undici";
import { findBinary } from "../../bench/lib/system.js";
import { type Managed, sleep, spawnManaged } from "./procs.js";
import { makeTestPki } from "./tls.js";

/** `deploy/<path>` in this repository: the files users copy, which the tests run unchanged. */
export const deployFile = (path: string) => fileURLToPath(new URL(`../../deploy/${path}`, import.meta.url));

export interface TlsFiles {
  dir: string;
  /** The test CA that signed the server certificate (what clients trust). */
  ca: string;
  /** Server certificate for 127.0.0.1 (IP SAN) and localhost. */
  cert: string;
  key: string;
  /** Certificate then key in one PEM file (HAProxy's `crt`). */
  pem: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the real `openssl`. */
export function makeTlsCert(): TlsFiles {
  const pki = makeTestPki();
  const pem = join(pki.dir, "server-with-key.pem");
  writeFileSync(pem, readFileSync(pki.serverCert, "utf8") + readFileSync(pki.serverKey, "utf8"));
  return { dir: pki.dir, ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, pem };
}

/** Exact strings of a deploy file and what replaces each one (ports, addresses, file paths only). */
export type Substitutions = Record<string, string>;

/**
 * The file's text with every occurrence of each key replaced. A key the file does not contain is an
 * error: the file changed and the test would no longer run what it says.
 */
export function substitute(file: string, substitutions: Substitutions): string {
  let text = readFileSync(file, "utf8");
  for (const [from, to] of Object.entries(substitutions)) {
    if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}`);
    text = text.split(from).join(to);
  }
  return text;
}

/**
 * A client-side dispatcher that trusts the test CA (for undici's `fetch` and the SDK transport);
 * with `h2`, it offers HTTP/2 and uses it when the server accepts (ALPN).
 */
export function trustingAgent(ca: string, options: { h2?: boolean } = {}): Agent {
  return new Agent({ connect: { ca: readFileSync(ca, "utf8") }, allowH2: options.h2 === true });
}

/** `fetch` through `agent` (e.g. one from `trustingAgent`): what the SDK's client transport is given. */
export function fetchVia(agent: Agent): typeof fetch {
  return ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(
      input as Parameters<typeof undiciFetch>[0],
      { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1],
    )) as unknown as typeof fetch;
}

export interface RunningProxy {
  /** `https://127.0.0.1:PORT` (no trailing slash). */
  base: string;
  port: number;
  /** The configuration as run: the deploy file with the substitutions made. */
  configFile: string;
  proc: Managed;
  /** Everything the proxy wrote to stdout and stderr so far (and its error log for nginx). */
  output(): string;
  stop(): Promise<void>;
}

export interface ListenOptions {
  /** The port the substitutions make the proxy listen on, on 127.0.0.1. */
  port: number;
  /** The CA that signed the proxy's certificate (to probe it over TLS). */
  ca: string;
}

function requireBinary(name: string): string {
  const bin = findBinary(name);
  if (!bin) throw new Error(`${name} is missing: \`bash scripts/test-setup.sh\` installs it (Debian package)`);
  return bin;
}

/** Resolves once the proxy answers anything over TLS on its port; fails if it exits first. */
async function waitUntilAnswering(proc: Managed, base: string, ca: string, output: () => string): Promise<void> {
  const dispatcher = trustingAgent(ca);
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  try {
    for (let i = 0; i < 200; i++) {
      if (exited) throw new Error(`the proxy exited before answering:\n${output()}`);
      const answered = await undiciFetch(`${base}/`, { dispatcher, signal: AbortSignal.timeout(2000) }).then(
        async (r) => {
          await r.body?.cancel();
          return true;
        },
        () => false,
      );
      if (answered) return;
      await sleep(50);
    }
    throw new Error(`the proxy never answered on ${base}:\n${output()}`);
  } finally {
    await dispatcher.close();
  }
}

/** Stop with `signal`; SIGKILL if it is still there after 5 s (a proxy holding streams open). */
async function stopProc(proc: Managed, signal: NodeJS.Signals): Promise<void> {
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), 5000);
  await proc.stop(signal);
  clearTimeout(timer);
}

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `swy-${name}-`));
  // nginx's workers run as another user when the master is root: let them into the prefix.
  chmodSync(dir, 0o755);
  return dir;
}

async function started(
  proc: Managed,
  configFile: string,
  listen: ListenOptions,
  signal: NodeJS.Signals,
  extraOutput: () => string = () => "",
): Promise<RunningProxy> {
  const base = `https://127.0.0.1:${listen.port}`;
  const output = () => [...proc.lines, ...proc.stderr, extraOutput()].join("\n");
  await waitUntilAnswering(proc, base, listen.ca, output);
  return { base, port: listen.port, configFile, proc, output, stop: () => stopProc(proc, signal) };
}

/**
 * Real nginx running an http-context snippet (`deploy/nginx/switchyard.conf` and the like), included
 * from a minimal main configuration in a temporary prefix (runs as any user).
 */
export async function startNginx(
  snippetFile: string,
  substitutions: Substitutions,
  listen: ListenOptions,
): Promise<RunningProxy> {
  const bin = requireBinary("nginx");
  const prefix = tempDir("nginx");
  mkdirSync(join(prefix, "logs"));
  mkdirSync(join(prefix, "conf.d"));
  const snippet = join(prefix, "conf.d", basename(snippetFile));
  writeFileSync(snippet, substitute(snippetFile, substitutions));
  const main = join(prefix, "main.conf");
  writeFileSync(
    main,
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${snippet};
}
`,
  );
  const proc = spawnManaged(bin, ["-p", prefix, "-c", main, "-e", `${prefix}/logs/error.log`]);
  // SIGTERM: nginx's fast shutdown (SIGQUIT would wait for every open stream to end).
  return started(proc, snippet, listen, "SIGTERM", () => {
    try {
      return readFileSync(join(prefix, "logs", "error.log"), "utf8");
    } catch {
      return "";
    }
  });
}

/**
 * Real Caddy running a Caddyfile (`deploy/caddy/Caddyfile`), its data and config directories
 * (XDG_DATA_HOME, XDG_CONFIG_HOME, HOME) in a temporary directory, so that it runs as any user.
 */
export async function startCaddy(
  caddyfile: string,
  substitutions: Substitutions,
  listen: ListenOptions,
): Promise<RunningProxy> {
  const bin = requireBinary("caddy");
  const dir = tempDir("caddy");
  const file = join(dir, "Caddyfile");
  writeFileSync(file, substitute(caddyfile, substitutions));
  const proc = spawnManaged(bin, ["run", "--config", file, "--adapter", "caddyfile"], {
    HOME: dir,
    XDG_DATA_HOME: join(dir, "data"),
    XDG_CONFIG_HOME: join(dir, "config"),
  });
  // SIGQUIT: stop at once (SIGTERM would wait for every open stream to end).
  return started(proc, file, listen, "SIGQUIT");
}

/** Real HAProxy running a configuration file (`deploy/haproxy/haproxy.cfg`), in the foreground (`-db`). */
export async function startHaproxy(
  cfgFile: string,
  substitutions: Substitutions,
  listen: ListenOptions,
): Promise<RunningProxy> {
  const bin = requireBinary("haproxy");
  const dir = tempDir("haproxy");
  const file = join(dir, basename(cfgFile));
  writeFileSync(file, substitute(cfgFile, substitutions));
  // -c first: a configuration error is reported as such rather than as a proxy that never answers.
  try {
    execFileSync(bin, ["-c", "-q", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`haproxy -c refused ${file}:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
  }
  const proc = spawnManaged(bin, ["-db", "-f", file]);
  // SIGTERM: HAProxy's immediate stop.
  return started(proc, file, listen, "SIGTERM");
}
