import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { check, SOUND_DEPLOYMENT } from "../helpers/check.js";
import {
  type GatewayProc,
  type Managed,
  type Replica,
  startGateway,
  startPrefixed,
  startReplica,
  svcConfig,
} from "../helpers/procs.js";
import { tenantGateway } from "../helpers/tenants.js";
import { makeTestPki } from "../helpers/tls.js";

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
    const { code, report, status, problems } = await check([
      gw.route("svc"),
      "--idle",
      "2",
      "--origin",
      "https://app.example",
    ]);
    assert.equal(code, 0, problems());
    assert.equal(report.ok, true);
    for (const id of [...SOUND_DEPLOYMENT, "cors"]) {
      assert.equal(status(id), "pass", id);
    }
    assert.equal(status("auth"), "skip");
    const idle = report.findings.find((f) => f.id === "stream.idle");
    assert.match(idle?.title ?? "", /survived 2\.0 s \(heartbeats every 0\.5 s, [2-4] received\)/);
  });

  it("the diagnostic stream: GET only, credentials a proxy adds echoed as (present), a few at once", async () => {
    const url = `${gw.base}/.switchyard/diagnostics/stream?events=1&every=10`;
    const post = await fetch(url, { method: "POST" });
    assert.equal(post.status, 405);
    const res = await fetch(url, {
      headers: { "x-auth-request-access-token": "secret-token", "mcp-session-id": "abc", authorization: "Bearer k" },
    });
    const text = await res.text();
    assert.doesNotMatch(text, /secret-token|Bearer k/);
    assert.match(text, /"x-auth-request-access-token":"\(present\)"/);
    assert.match(text, /"mcp-session-id":"abc"/);
    const held = await Promise.all(
      [1, 2, 3, 4, 5].map(() => fetch(`${gw.base}/.switchyard/diagnostics/stream?events=1&every=10&idle=3000`)),
    );
    assert.deepEqual(held.map((r) => r.status).sort(), [200, 200, 200, 200, 503], "a fifth stream at once is refused");
    await Promise.all(held.map((r) => r.body?.cancel()));
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
    // Port 9 (discard): nothing in the tests binds it, unlike a port that was free a moment ago.
    const { code, status } = await check(["http://127.0.0.1:9/svc/mcp", "--timeout", "2"]);
    assert.equal(code, 1);
    assert.equal(status("reach"), "fail");
  });

  it("TLS: a certificate the client does not trust fails; one about to expire warns", async () => {
    const pki = makeTestPki(5);
    const server = createServer(
      { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) },
      (_req, res) => {
        res.writeHead(404).end();
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/svc/mcp`;
    try {
      const untrusted = await check([url, "--timeout", "2"]);
      assert.equal(untrusted.code, 1);
      assert.equal(untrusted.status("tls"), "fail");
      assert.match(untrusted.title("tls"), /not trusted/);
      const expiring = await check([url, "--ca", pki.ca, "--timeout", "2"]);
      assert.equal(expiring.status("tls"), "warn");
      assert.match(expiring.title("tls"), /expires in [45] day/);
    } finally {
      server.close();
    }
  });
});

describe("switchyard check against a server that answers 400 for unknown sessions", () => {
  let server: Managed & { url: string };
  let gw: GatewayProc;

  before(async () => {
    server = await startPrefixed("r1", ["--unknown-status", "400"]);
    gw = await startGateway(["--config", svcConfig([server])]);
  });
  after(async () => {
    await gw?.stop();
    await server?.stop();
  });

  it("fails it directly, naming the cause; passes it behind Switchyard, which answers 404 itself", async () => {
    const direct = await check([server.url, "--repeat", "2"]);
    assert.equal(direct.code, 1);
    assert.equal(direct.status("session.unknown"), "fail");
    assert.match(direct.title("session.unknown"), /answered 400, not 404/);
    const behind = await check([gw.route("svc"), "--repeat", "2"]);
    assert.equal(behind.status("session.unknown"), "pass", behind.problems());
    assert.equal(behind.code, 0);
  });
});
