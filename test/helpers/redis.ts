import { findBinary } from "../../bench/lib/system.js";
import { freePort, type Managed, spawnManaged } from "./procs.js";

export interface RedisServer {
  url: string;
  port: number;
  proc: Managed;
  /** Stop it (SIGTERM, or SIGKILL to simulate a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
}

async function launch(bin: string, port: number, password?: string): Promise<Managed> {
  const proc = spawnManaged(bin, [
    ...(password ? ["--requirepass", password] : []),
    "--port",
    String(port),
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
export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const bin = findBinary("redis-server");
  if (!bin) throw new Error("redis-server is missing: `bash scripts/test-setup.sh` installs it (Debian package)");
  const port = await freePort();
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc: await launch(bin, port, options.password),
    async stop(signal = "SIGTERM") {
      await server.proc.stop(signal);
    },
    async restart() {
      server.proc = await launch(bin, port, options.password);
    },
  };
  return server;
}
