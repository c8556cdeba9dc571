import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EVERYTHING, type HostProc, startHost } from "../helpers/host.js";
import {
  type GatewayProc,
  type Managed,
  type Replica,
  ROOT,
  spawnManaged,
  startDualEra,
  startGateway,
  startOnFreePort,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { waitFor } from "../helpers/wait.js";

/** The conformance suite needs Node >= 22: the `node` dev dependency provides that binary. */
const NODE22 = join(ROOT, "node_modules/node/bin/node");
const CONFORMANCE = join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");

/**
 * Checks the gateway deliberately makes pass where the server alone fails them: it rejects DNS-rebinding
 * Hosts/Origins itself, and answers 404 for a session it saw terminated (server-everything answers 400).
 */
const GATEWAY_FIXES = new Set([
  "localhost-host-rebinding-rejected",
  "localhost-host-valid-accepted",
  "server-session-terminated-returns-404",
]);

type Results = Map<string, Array<{ id: string; status: string }>>;

/** A gateway's configuration: route `name` to `url`, and virtual server `v` with it as its one member, unprefixed. */
function singleMemberVirtual(name: string, url: string): string {
  return writeConfig(`logLevel: warn
upstreams:
  ${name}: { replicas: [${url}] }
virtual:
  v: { members: [${name}], prefix: "" }
`);
}

/**
 * Run the official server scenarios against `url` — the active suite, one scenario (`--scenario NAME`),
 * or a revision's requirements (`--requirements 2026-07-28`); scenario → its checks' ids and outcomes.
 */
function runConformance(url: string, scenario?: string, args: string[] = []): Results {
  const out = mkdtempSync(join(tmpdir(), "swy-conformance-"));
  const only = scenario ? ["--scenario", scenario] : [];
  const run = spawnSync(NODE22, [CONFORMANCE, "server", "--url", url, ...only, ...args, "-o", out], {
    encoding: "utf8",
    timeout: 180_000,
  });
  assert.equal(run.error, undefined, String(run.error));
  const results: Results = new Map();
  for (const dir of readdirSync(out)) {
    const scenario = /^server-(?:server-)?(.+)-\d{4}-\d\d-\d\dT/.exec(dir)?.[1];
    const file = join(out, dir, "checks.json");
    if (!scenario || !existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, "utf8")) as Array<{ id: string; status: string }>;
    results.set(
      scenario,
      checks.map((c) => ({ id: c.id, status: c.status })),
    );
  }
  return results;
}

/** Check by check, `through` gives what `direct` gives (the gateway's own fixes aside). */
function assertSameOutcomes(direct: Results, through: Results): void {
  assert.deepEqual([...through.keys()].sort(), [...direct.keys()].sort(), "the same scenarios ran");
  for (const [scenario, checks] of direct) {
    const got = through.get(scenario) ?? [];
    assert.deepEqual(
      got.map((c) => c.id),
      checks.map((c) => c.id),
      `scenario ${scenario} ran other checks through the gateway`,
    );
    checks.forEach((check, i) => {
      const status = (got[i] as { status: string }).status;
      if (GATEWAY_FIXES.has(check.id)) assert.equal(status, "SUCCESS", `${scenario}/${check.id} through the gateway`);
      else assert.equal(status, check.status, `${scenario}/${check.id} changed through the gateway`);
    });
  }
}

describe("official MCP conformance suite, direct vs through the gateway", () => {
  let server: Managed;
  let gateway: GatewayProc;
  let direct: string;
  let host: HostProc | undefined;
  // The direct run, once for every comparison below.
  let directResults: Results | undefined;
  const directOnce = () => {
    directResults ??= runConformance(direct);
    return directResults;
  };

  before(async () => {
    assert.ok(existsSync(NODE22), "the node@22 dev dependency is installed (npm ci)");
    // server-everything cannot listen on port 0 and report its port: a free one, another if it was taken.
    let port = 0;
    server = await startOnFreePort(async (p) => {
      port = p;
      const proc = spawnManaged(process.execPath, [EVERYTHING, "streamableHttp"], { PORT: String(p) });
      let exited = false;
      void proc.exited.then(() => {
        exited = true;
      });
      await waitFor("server-everything to listen", () => {
        if (exited) throw new Error(`server-everything exited: ${proc.stderr.join("\n")}`);
        return proc.stderr.some((l) => l.includes("listening"));
      }).catch(async (err) => {
        await proc.stop("SIGKILL");
        throw new Error(`${(err as Error).message}\n${proc.stderr.join("\n")}`);
      });
      return proc;
    });
    direct = `http://127.0.0.1:${port}/mcp`;
    gateway = await startGateway(["--config", singleMemberVirtual("everything", direct)]);
  });
  after(async () => {
    await gateway?.stop();
    await server?.stop();
    await host?.stop();
  });

  it("the same package over stdio behind `switchyard host`: the same outcome, check by check, as over its own Streamable HTTP", async () => {
    host = await startHost(["--log-level", "warn"], [process.execPath, EVERYTHING, "stdio"]);
    const a = directOnce();
    const b = runConformance(host.mcp);
    assert.ok(a.size >= 20, `the suite ran (${a.size} scenarios)`);
    assertSameOutcomes(a, b);
  });

  it("through a virtual server with the one member (federation; names as the member gives them): the same outcome, check by check", () => {
    const a = directOnce();
    const b = runConformance(gateway.route("v"));
    assert.ok(a.size >= 20, `the suite ran (${a.size} scenarios)`);
    assertSameOutcomes(a, b);
  });

  it("gives the same outcome, check by check, and passes dns-rebinding-protection", () => {
    const a = directOnce();
    const b = runConformance(gateway.route("everything"));
    assert.ok(a.size >= 20, `the suite ran (${a.size} scenarios)`);
    const passed = [...a.values()].flat().filter((c) => c.status === "SUCCESS").length;
    assert.ok(passed >= 30, `the direct run is meaningful (${passed} checks passed)`);
    assertSameOutcomes(a, b);
    const rebinding = b.get("dns-rebinding-protection") ?? [];
    assert.ok(rebinding.length >= 2);
    for (const check of rebinding) assert.equal(check.status, "SUCCESS", `dns-rebinding-protection: ${check.id}`);
  });
});

describe("conformance server-sse-polling (SEP-1699) with a resumable server, direct vs through the gateway", () => {
  it("resumes the closed stream with Last-Event-ID through the gateway as directly", async () => {
    const replica: Replica = await startReplica("polling");
    const gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "warn"]);
    try {
      const direct = runConformance(replica.url, "server-sse-polling").get("sse-polling") ?? [];
      const through = runConformance(gateway.route("svc"), "server-sse-polling").get("sse-polling") ?? [];
      assert.deepEqual(
        through.map((c) => [c.id, c.status]),
        direct.map((c) => [c.id, c.status]),
      );
      for (const id of ["server-sse-priming-event", "server-sse-retry-field", "server-sse-disconnect-resume"]) {
        assert.equal(through.find((c) => c.id === id)?.status, "SUCCESS", `${id} through the gateway`);
      }
    } finally {
      await gateway.stop();
      await replica.stop();
    }
  });
});

describe("conformance of the 2026-07-28 revision with an SDK v2 dual-era server, direct vs through the gateway", () => {
  let replica: Replica;
  let gateway: GatewayProc;
  before(async () => {
    replica = await startDualEra("conformance");
    gateway = await startGateway(["--config", singleMemberVirtual("svc", replica.url)]);
  });

  it("--requirements 2026-07-28 through a virtual server with the one member: no worse, check by check", () => {
    const direct = runConformance(replica.url, undefined, ["--requirements", "2026-07-28"]);
    const through = runConformance(gateway.route("v"), undefined, ["--requirements", "2026-07-28"]);
    assert.ok(direct.size >= 30, `the requirements ran (${direct.size} scenarios)`);
    assertSameOutcomes(direct, through);
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  it("--requirements 2026-07-28 gives the same result, check by check", () => {
    const direct = runConformance(replica.url, undefined, ["--requirements", "2026-07-28"]);
    const through = runConformance(gateway.route("svc"), undefined, ["--requirements", "2026-07-28"]);
    assert.ok(direct.size >= 30, `the requirements ran (${direct.size} scenarios)`);
    const passed = [...direct.values()].flat().filter((c) => c.status === "SUCCESS").length;
    assert.ok(passed >= 100, `the direct run is meaningful (${passed} checks passed)`);
    assertSameOutcomes(direct, through);
  });

  for (const scenario of ["caching", "http-header-validation"]) {
    it(`the ${scenario} scenario passes through the gateway as directly`, () => {
      const direct = runConformance(replica.url, scenario);
      const through = runConformance(gateway.route("svc"), scenario);
      const checks = direct.get(scenario) ?? [];
      assert.ok(checks.length >= 5, `${scenario} ran (${checks.length} checks)`);
      assert.ok(
        checks.every((c) => c.status === "SUCCESS"),
        `${scenario} passes directly`,
      );
      assertSameOutcomes(direct, through);
    });
  }
});
