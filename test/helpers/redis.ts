import { findBinary } from "../../bench/lib/system.js";
import {
  type ExampleReplica,
  type GatewayProc,
  type Managed,
  type Replica,
  spawnManaged,
  startAll,
  startGateway,
  startOnFreePort,
  startReplica,
} from "./procs.js";
import { makeTestPki, type TestPki } from "./tls.js";

export interface RedisServer {
  /** `redis://127.0.0.1:PORT`, or `rediss://` with `tls`. */
  url: string;
  /** With `tls`: the CA and client certificate it trusts (it requires a client certificate). */
  pki: TestPki | undefined;
  port: number;
  proc: Managed;
  /** Stop it (SIGTERM, or SIGKILL to simulate a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing (a hung Redis, not a dead one). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Start it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
}

async function launch(bin: string, port: number, password?: string, pki?: TestPki): Promise<Managed> {
  const proc = spawnManaged(bin, [
    ...(password ? ["--requirepass", password] : []),
    ...(pki
      ? [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cert-file",
          pki.serverCert,
          "--tls-key-file",
          pki.serverKey,
          "--tls-ca-cert-file",
          pki.ca,
          "--tls-auth-clients",
          "yes",
        ]
      : ["--port", String(port)]),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
  ]);
  await proc.waitForLine((l) => l.includes("Ready to accept connections"));
  return proc;
}

/** A real `redis-server` owned by this test file, on a free port. */
export async function startRedis(options: { password?: string; tls?: boolean } = {}): Promise<RedisServer> {
  const bin = findBinary("redis-server");
  if (!bin) throw new Error("redis-server is missing: `bash scripts/test-setup.sh` installs it (Debian package)");
  const pki = options.tls ? makeTestPki() : undefined;
  // redis-server cannot listen on port 0 and report its port.
  const [port, proc] = await startOnFreePort(async (p) => [p, await launch(bin, p, options.password, pki)] as const);
  const server: RedisServer = {
    url: `${pki ? "rediss" : "redis"}://127.0.0.1:${port}`,
    pki,
    port,
    proc,
    async stop(signal = "SIGTERM") {
      server.proc.child.kill("SIGCONT"); // a paused server could not act on the signal
      await server.proc.stop(signal);
    },
    pause() {
      server.proc.child.kill("SIGSTOP");
    },
    resume() {
      server.proc.child.kill("SIGCONT");
    },
    async restart() {
      server.proc = await launch(bin, port, options.password, pki);
    },
  };
  return server;
}

/** One `redis-server`, example replicas and gateways that share it (`--store`), stopped together. */
export interface SharedCluster {
  redis: RedisServer;
  replicas: ExampleReplica[];
  gateways: GatewayProc[];
  stop(): Promise<void>;
}

/** `upstream` makes the `--upstream` value from the replicas (e.g. their HTTP+SSE URLs). */
export async function startSharedCluster(options: {
  replicas: number;
  gateways: number;
  upstream: (replicas: Replica[]) => string;
  /** What the replicas answer for a session id they do not know (`startReplica`). */
  unknownSessions?: "404" | "400" | "accept";
}): Promise<SharedCluster> {
  const redis = await startRedis();
  const replicas = await startAll(
    Array.from({ length: options.replicas }, (_, i) =>
      startReplica(`r${i + 1}`, undefined, { unknownSessions: options.unknownSessions }),
    ),
  ).catch(async (err) => {
    await redis.stop("SIGKILL");
    throw err;
  });
  const upstream = options.upstream(replicas);
  const gateways = await startAll(
    Array.from({ length: options.gateways }, () =>
      startGateway(["--upstream", upstream, "--store", redis.url, "--log-level", "warn"]),
    ),
  ).catch(async (err) => {
    await Promise.all(replicas.map((r) => r.stop("SIGKILL")));
    await redis.stop("SIGKILL");
    throw err;
  });
  return {
    redis,
    replicas,
    gateways,
    async stop() {
      await Promise.all(gateways.map((g) => g.stop()));
      await Promise.all(replicas.map((r) => r.stop()));
      await redis.stop();
    },
  };
}
