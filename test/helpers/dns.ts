import { promises as dnsPromises } from "node:dns";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary } from "../../bench/lib/system.js";
import { type Managed, spawnManaged, startOnFreePort } from "./procs.js";
import { waitFor } from "./wait.js";

/** The zone the test DNS server answers with authority: a name under it that it does not hold is NXDOMAIN. */
export const ZONE = "mcp.test";

export interface SrvRecord {
  name: string;
  target: string;
  port: number;
}

/**
 * A real `dnsmasq` on 127.0.0.1 and a free port, authoritative for `*.mcp.test` with TTL 1 s: A/AAAA
 * records from a hosts file (changed with `set`, reloaded with SIGHUP), SRV records from its
 * configuration (changed with `setSrv`, which restarts it on the same port).
 */
export interface DnsServer {
  /** `127.0.0.1:PORT`, for `resolver.servers`. */
  address: string;
  port: number;
  /** Make `name` resolve to exactly `addresses` (none: the name is gone, NXDOMAIN), and wait until it does. */
  set(name: string, addresses: string[]): Promise<void>;
  setSrv(records: SrvRecord[]): Promise<void>;
  /** Stop answering (the process is stopped: queries time out), and answer again. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startDns(): Promise<DnsServer> {
  const bin = findBinary("dnsmasq");
  if (!bin)
    throw new Error("dnsmasq is missing: `bash scripts/test-setup.sh` installs it (Debian package dnsmasq-base)");
  const dir = mkdtempSync(join(tmpdir(), "swy-dns-"));
  // dnsmasq drops its privileges and reads the hosts file again on SIGHUP as that user.
  chmodSync(dir, 0o755);
  const hostsFile = join(dir, "hosts");
  const records = new Map<string, string[]>();
  let srv: SrvRecord[] = [];
  const writeHosts = () => {
    const lines = [`127.0.0.1 ready.${ZONE}`];
    for (const [name, addresses] of records) for (const a of addresses) lines.push(`${a} ${name}`);
    writeFileSync(hostsFile, `${lines.join("\n")}\n`, { mode: 0o644 });
  };
  writeHosts();
  const launch = async (port: number): Promise<Managed> => {
    const proc = spawnManaged(bin, [
      "--keep-in-foreground",
      "--no-daemon",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      `--addn-hosts=${hostsFile}`,
      `--local=/${ZONE}/`,
      "--local-ttl=1",
      "--no-negcache",
      "--pid-file=",
      "--user=root",
      "--log-facility=-",
      ...srv.map((r) => `--srv-host=${r.name},${r.target},${r.port}`),
    ]);
    // Up once it answers on its port (a name of its own); gone if it could not bind it.
    const probe = new dnsPromises.Resolver({ timeout: 200, tries: 1 });
    probe.setServers([`127.0.0.1:${port}`]);
    let exited = false;
    proc.exited.then(() => {
      exited = true;
    });
    await waitFor("dnsmasq to answer", async () => {
      if (exited) throw new Error("exited");
      return (await probe.resolve4(`ready.${ZONE}`).catch(() => [])).length > 0;
    }).catch(async () => {
      await proc.stop("SIGKILL");
      throw new Error(`dnsmasq did not start on port ${port}:\n${[...proc.lines, ...proc.stderr].join("\n")}`);
    });
    return proc;
  };
  const [port, first] = await startOnFreePort(async (p) => [p, await launch(p)] as const);
  let proc = first;
  const address = `127.0.0.1:${port}`;
  const resolver = new dnsPromises.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([address]);
  const answers = async (name: string): Promise<string[]> => {
    const all = await Promise.all([
      resolver.resolve4(name).catch(() => [] as string[]),
      resolver.resolve6(name).catch(() => [] as string[]),
    ]);
    return all.flat().sort();
  };
  return {
    address,
    port,
    async set(name, addresses) {
      if (addresses.length === 0) records.delete(name);
      else records.set(name, addresses);
      writeHosts();
      proc.child.kill("SIGHUP");
      const want = [...addresses].sort().join(",");
      await waitFor(`dnsmasq to answer ${name} → [${want}]`, async () => (await answers(name)).join(",") === want);
    },
    async setSrv(records) {
      srv = records;
      await proc.stop("SIGTERM");
      proc = await launch(port);
      const names = [...new Set(records.map((r) => r.name))];
      for (const name of names) {
        const want = records.filter((r) => r.name === name).length;
        await waitFor(`dnsmasq to answer SRV ${name}`, async () => (await resolver.resolveSrv(name)).length === want);
      }
    },
    pause() {
      proc.child.kill("SIGSTOP");
    },
    resume() {
      proc.child.kill("SIGCONT");
    },
    async stop() {
      proc.child.kill("SIGCONT");
      await proc.stop("SIGTERM");
    },
  };
}
