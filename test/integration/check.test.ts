import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Report } from "../../src/doctor/finding.js";
import {
  CLI,
  freePort,
  type GatewayProc,
  type Replica,
  spawnManaged,
  startGateway,
  startReplica,
  svcConfig,
} from "../helpers/procs.js";
import { tenantGateway } from "../helpers/tenants.js";

/** `switchyard check ARGS --json` as a user runs it: the report and the exit code. */
export async function check(
  args: string[],
): Promise<{ code: number | null; report: Report; status(id: string): string }> {
  const proc = spawnManaged(process.execPath, [CLI, "check", ...args, "--json"]);
  const code = await proc.exited;
  const report = JSON.parse(proc.lines.join("\n")) as Report;
  const status = (id: string) => report.findings.find((f) => f.id === id)?.status ?? "absent";
  return { code, report, status };
}

describe("switchyard check against a gateway (no proxy)", () => {
  let replicas: Replica[];
  let gw: GatewayProc;
  let tenants: Awaited<ReturnType<typeof tenantGateway>>;

  before(async () => {
    replicas = await Promise.all(["a", "b"].map((n) => startReplica(n)));
    gw = await startGateway([
      "--config",
      svcConfig(
        replicas,
        "diagnostics:\n  enabled: true\nheartbeat:\n  interval: 500ms\nsecurity:\n  allowedOrigins: [https://app.example]\n",
        "balancer: round-robin",
      ),
    ]);
    tenants = await tenantGateway();
    await tenants.tenant("acme");
  });
  after(async () => {
    await Promise.all([gw?.stop(), tenants?.gateway.stop(), ...(replicas ?? []).map((r) => r.stop())]);
  });

  it("passes every check of a sound deployment, exit 0, with the findings in JSON", async () => {
    const { code, report, status } = await check([gw.route("svc"), "--idle", "2", "--origin", "https://app.example"]);
    assert.equal(code, 0, JSON.stringify(report.findings.filter((f) => f.status !== "pass")));
    assert.equal(report.ok, true);
    for (const id of [
      "tls",
      "session.id",
      "session.affinity",
      "session.unknown",
      "stream.get",
      "session.delete",
      "versions",
      "cors",
      "discovery",
      "stream.buffering",
      "stream.idle",
      "stream.headers",
    ]) {
      assert.equal(status(id), "pass", id);
    }
    assert.equal(status("auth"), "skip");
    const idle = report.findings.find((f) => f.id === "stream.idle");
    assert.match(idle?.title ?? "", /survived 2\.0 s \(heartbeats every 0\.5 s, [2-4] received\)/);
  });

  it("fails an origin the gateway refuses, and skips the stream checks where diagnostics are off", async () => {
    const refused = await check([gw.route("svc"), "--origin", "https://evil.example", "--repeat", "2"]);
    assert.equal(refused.code, 1);
    assert.equal(refused.status("cors"), "fail");
    const off = await startGateway(["--config", svcConfig(replicas)]);
    try {
      const plain = await check([off.route("svc"), "--repeat", "2"]);
      assert.equal(plain.code, 0);
      assert.equal(plain.status("stream.buffering"), "skip");
      assert.equal(plain.status("cors"), "skip");
    } finally {
      await off.stop();
    }
  });

  it("checks WWW-Authenticate on 401, and a credential passed with --header", async () => {
    await tenants.server("acme", "s1", (replicas[0] as Replica).url);
    const url = `${tenants.gateway.base}/acme/s1/mcp`;
    const anonymous = await check([url, "--repeat", "2"]);
    assert.equal(anonymous.status("auth"), "pass");
    assert.equal(anonymous.status("session.id"), "skip");
    const key = await tenants.tenant("acme2");
    await tenants.server("acme2", "s1", (replicas[1] as Replica).url);
    const keyed = await check([`${tenants.gateway.base}/acme2/s1/mcp`, "--header", `Authorization: Bearer ${key}`]);
    assert.equal(keyed.code, 0, JSON.stringify(keyed.report.findings));
    assert.equal(keyed.status("auth"), "pass", "a wrong credential gets 401 with a challenge");
    assert.equal(keyed.status("session.affinity"), "pass");
  });

  it("fails, exit 1, when nothing answers", async () => {
    const port = await freePort();
    const { code, status } = await check([`http://127.0.0.1:${port}/svc/mcp`, "--timeout", "2"]);
    assert.equal(code, 1);
    assert.equal(status("reach"), "fail");
  });
});
