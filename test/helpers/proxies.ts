import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch as undiciFetch } from "undici";
import { findBinary } from "../../bench/lib/system.js";
import { type Managed, sleep, spawnManaged, startOnFreePort } from "./procs.js";
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
  /** The CA that signed the proxy's certificate (to probe it over TLS). */
  ca: string;
}

/**
 * The substitutions that make the proxy listen on 127.0.0.1:`port` (and anything else it binds on
 * other ports, each from `freePort()`): called again with a new port if the proxy could not bind.
 */
export type SubstitutionsFor = (port: number) => Substitutions | Promise<Substitutions>;

function requireBinary(name: string): string {
  const bin = findBinary(name);
  if (!bin) throw new Error(`${name} is missing: \`bash scripts/test-setup.sh\` installs it (Debian package)`);
  return bin;
}

/** The proxy exited before it answered; `output` is what it wrote (why). */
/** How the process ended, if it has (a proxy gone in the middle of a suite says so in its output). */
function exitStatus(proc: Managed): string {
  const { exitCode, signalCode } = proc.child;
  if (exitCode === null && signalCode === null) return "";
  return `[the proxy exited: ${signalCode ? `signal ${signalCode}` : `code ${exitCode}`}]`;
}

/** Once the process has exited, its stdout and stderr closed (every line read), or 2 s at most. */
async function outputRead(proc: Managed): Promise<void> {
  const open = [proc.child.stdout, proc.child.stderr].filter((s) => s !== null && !s.closed);
  await Promise.race([Promise.all(open.map((s) => once(s as NodeJS.ReadableStream, "close"))), sleep(2000)]);
}

/**
 * Resolves once the proxy answers anything over TLS on its port (a certificate of the test CA: this
 * proxy, not another process that took the port); fails if it exits first or does not answer in 30 s.
 */
async function waitUntilAnswering(proc: Managed, base: string, ca: string, output: () => string): Promise<void> {
  const dispatcher = trustingAgent(ca);
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (exited) {
        await outputRead(proc);
        throw new Error(`the proxy exited before answering:\n${output()}`);
      }
      const answered = await undiciFetch(`${base}/`, { dispatcher, signal: AbortSignal.timeout(2000) }).then(
        async (r) => {
          await r.body?.cancel();
          return true;
        },
        () => false,
      );
      if (answered) return;
      if (Date.now() > deadline) throw new Error(`the proxy never answered on ${base} in 30 s:\n${output()}`);
      await sleep(50);
    }
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

/** One attempt: the proxy `launch` spawns (its configuration written for `port`), once it answers. */
type Launch = (port: number) => Promise<{
  proc: Managed;
  configFile: string;
  /** SIGTERM or SIGQUIT: the signal that stops this proxy at once. */
  signal: NodeJS.Signals;
  extraOutput?: () => string;
}>;

/** Start a proxy that cannot listen on port 0 (`startOnFreePort`: another port if its port was taken). */
function startProxy(launch: Launch, ca: string): Promise<RunningProxy> {
  return startOnFreePort(async (port) => {
    const { proc, configFile, signal, extraOutput = () => "" } = await launch(port);
    const base = `https://127.0.0.1:${port}`;
    const output = () => [...proc.lines, ...proc.stderr, extraOutput(), exitStatus(proc)].join("\n");
    try {
      await waitUntilAnswering(proc, base, ca, output);
    } catch (err) {
      await stopProc(proc, "SIGKILL");
      throw err;
    }
    return { base, port, configFile, proc, output, stop: () => stopProc(proc, signal) };
  });
}

/**
 * Real nginx running an http-context snippet (`deploy/nginx/switchyard.conf` and the like), included
 * from a minimal main configuration in a temporary prefix (runs as any user).
 */
export async function startNginx(
  snippetFile: string,
  substitutions: SubstitutionsFor,
  listen: ListenOptions,
): Promise<RunningProxy> {
  const bin = requireBinary("nginx");
  return startProxy(async (port) => {
    const prefix = tempDir("nginx");
    mkdirSync(join(prefix, "logs"));
    mkdirSync(join(prefix, "conf.d"));
    const snippet = join(prefix, "conf.d", basename(snippetFile));
    writeFileSync(snippet, substitute(snippetFile, await substitutions(port)));
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
    const errorLog = join(prefix, "logs", "error.log");
    return {
      proc: spawnManaged(bin, ["-p", prefix, "-c", main, "-e", errorLog]),
      configFile: snippet,
      // SIGTERM: nginx's fast shutdown (SIGQUIT would wait for every open stream to end).
      signal: "SIGTERM",
      extraOutput: () => {
        try {
          return readFileSync(errorLog, "utf8");
        } catch {
          return "";
        }
      },
    };
  }, listen.ca);
}

/**
 * Real Caddy running a Caddyfile (`deploy/caddy/Caddyfile`), its data and config directories
 * (XDG_DATA_HOME, XDG_CONFIG_HOME, HOME) in a temporary directory, so that it runs as any user.
 */
export async function startCaddy(
  caddyfile: string,
  substitutions: SubstitutionsFor,
  listen: ListenOptions,
): Promise<RunningProxy> {
  const bin = requireBinary("caddy");
  return startProxy(async (port) => {
    const dir = tempDir("caddy");
    const file = join(dir, "Caddyfile");
    writeFileSync(file, substitute(caddyfile, await substitutions(port)));
    const proc = spawnManaged(bin, ["run", "--config", file, "--adapter", "caddyfile"], {
      HOME: dir,
      XDG_DATA_HOME: join(dir, "data"),
      XDG_CONFIG_HOME: join(dir, "config"),
    });
    // SIGQUIT: stop at once (SIGTERM would wait for every open stream to end).
    return { proc, configFile: file, signal: "SIGQUIT" };
  }, listen.ca);
}

/** Real HAProxy running a configuration file (`deploy/haproxy/haproxy.cfg`), in the foreground (`-db`). */
export async function startHaproxy(
  cfgFile: string,
  substitutions: SubstitutionsFor,
  listen: ListenOptions,
): Promise<RunningProxy> {
  const bin = requireBinary("haproxy");
  return startProxy(async (port) => {
    const dir = tempDir("haproxy");
    const file = join(dir, basename(cfgFile));
    writeFileSync(file, substitute(cfgFile, await substitutions(port)));
    // -c first: a configuration error is reported as such rather than as a proxy that never answers.
    try {
      execFileSync(bin, ["-c", "-q", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`haproxy -c refused ${file}:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
    }
    // SIGTERM: HAProxy's immediate stop.
    return { proc: spawnManaged(bin, ["-db", "-f", file]), configFile: file, signal: "SIGTERM" };
  }, listen.ca);
}
