import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { freePort, type GatewayProc, type Replica, startGateway, startReplica } from "../helpers/procs.js";
import { ADMIN } from "../helpers/tenants.js";
import { waitFor } from "../helpers/wait.js";

const READ = "read-only-token-0123456789";
const UPSTREAM_SECRET = "Bearer upstream-secret-Q7x2";

describe("the admin API for operators: a read-only token, and the running configuration", () => {
  let replica: Replica;
  let gateway: GatewayProc;
  let file: string;
  const dataDir = mkdtempSync(join(tmpdir(), "swy-admin-read-"));
  let deadPort: number;
  const yaml = (extra = "") => `logLevel: info
admin:
  readToken: ${READ}
  allowHttpServers: true
  dataDir: ${dataDir}
upstreams:
  svc:
    replicas: [${replica.url}]
    headers: { authorization: "${UPSTREAM_SECRET}" }
  dead:
    replicas: [http://127.0.0.1:${deadPort}/mcp]
${extra}`;
  before(async () => {
    replica = await startReplica("r1");
    deadPort = await freePort(); // nothing listens there
    file = join(mkdtempSync(join(tmpdir(), "swy-admin-read-")), "switchyard.yaml");
    writeFileSync(file, yaml());
    gateway = await startGateway(["--config", file, "--admin-token", ADMIN]);
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  const admin = (method: string, path: string, token: string, body?: unknown) =>
    rawRequest(`${gateway.base}/admin/v1${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it("the read-only token reads, and may change nothing (403), where the admin token may", async () => {
    assert.equal((await admin("POST", "/tenants", ADMIN, { id: "acme" })).status, 201);
    const list = await admin("GET", "/tenants", READ);
    assert.equal(list.status, 200);
    assert.deepEqual(
      (JSON.parse(list.body.toString()) as { tenants: Array<{ id: string }> }).tenants.map((t) => t.id),
      ["acme"],
    );
    for (const [method, path, body] of [
      ["POST", "/tenants", { id: "other" }],
      ["DELETE", "/tenants/acme", undefined],
      ["POST", "/tenants/acme/keys", undefined],
      ["PUT", "/tenants/acme", { quotas: { rps: 1 } }],
    ] as const) {
      const res = await admin(method, path, READ, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(errorCode(res).swy, "SWY_ADMIN_READ_ONLY");
    }
    const acme = JSON.parse((await admin("GET", "/tenants/acme", ADMIN)).body.toString()) as {
      keys: number;
      quotas?: { rps?: number };
    };
    assert.equal(acme.keys, 0, "no key was made");
    assert.notEqual(acme.quotas?.rps, 1, "the quotas did not change");
    assert.equal((await admin("GET", "/tenants", "not-the-token-0123456789")).status, 401);
  });

  it("GET /overview: each route's replicas and its requests and errors of the last minutes, the sessions", async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await rawRequest(gateway.route("svc"), { headers: MCP_HEADERS, body: JSON.stringify(INIT_BODY) });
      assert.equal(ok.status, 200);
    }
    const failed = await rawRequest(gateway.route("dead"), { headers: MCP_HEADERS, body: JSON.stringify(INIT_BODY) });
    assert.ok(failed.status >= 500, `the dead route answers ${failed.status}`); // 502, or 503 once it is marked down
    const res = await admin("GET", "/overview", READ);
    assert.equal(res.status, 200);
    const view = JSON.parse(res.body.toString()) as {
      routes: Array<{
        name: string;
        replicas: Array<{ id: string; state: string; healthy: boolean; inFlight: number }>;
        traffic: Array<{ at: number; requests: number; errors: number }>;
      }>;
      sessions: number;
      bucketSeconds: number;
    };
    const svc = view.routes.find((r) => r.name === "svc");
    const dead = view.routes.find((r) => r.name === "dead");
    assert.deepEqual(svc?.replicas, [{ id: replica.url, state: "serving", healthy: true, inFlight: 0 }]);
    assert.equal(dead?.replicas[0]?.healthy, false, "the replica that refused the connection is down");
    const sum = (t: Array<{ requests: number; errors: number }> = []) =>
      t.reduce((a, b) => ({ requests: a.requests + b.requests, errors: a.errors + b.errors }), {
        requests: 0,
        errors: 0,
      });
    assert.deepEqual(sum(svc?.traffic), { requests: 3, errors: 0 });
    assert.deepEqual(sum(dead?.traffic), { requests: 1, errors: 1 });
    assert.equal(svc?.traffic.length, 90, "15 minutes of 10 s buckets");
    assert.equal(view.bucketSeconds, 10);
    assert.equal(view.sessions, 3);
  });

  it("GET /sessions lists every route's sessions by hash; DELETE revokes one (its client gets 404) or a route's all", async () => {
    const open = async () => {
      const res = await rawRequest(gateway.route("svc"), { headers: MCP_HEADERS, body: JSON.stringify(INIT_BODY) });
      return String(res.headers["mcp-session-id"]);
    };
    const ping = (sid: string) =>
      rawRequest(gateway.route("svc"), {
        headers: { ...MCP_HEADERS, "mcp-session-id": sid },
        body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }),
      });
    const [a, b] = [await open(), await open()];
    const listed = await admin("GET", "/sessions?route=svc", READ);
    assert.equal(listed.status, 200);
    const text = listed.body.toString();
    assert.ok(!text.includes(a) && !text.includes(b), "no session id is shown");
    const { sessions } = JSON.parse(text) as {
      sessions: Array<{ route: string; id: string; replica: string; ageSeconds: number; idleSeconds: number }>;
    };
    assert.ok(sessions.length >= 2);
    assert.ok(sessions.every((s) => s.route === "svc" && s.replica === replica.url));
    // The most recent first: b, then a.
    const [first] = sessions;
    assert.equal((await admin("DELETE", `/sessions/svc/${first?.id}`, READ)).status, 403, "not with the read token");
    assert.equal((await ping(b)).status, 200);
    const gone = await admin("DELETE", `/sessions/svc/${first?.id}`, ADMIN);
    assert.equal(gone.status, 200, gone.body.toString());
    const refused = await ping(b);
    assert.equal(refused.status, 404, "the revoked session's next request");
    assert.equal(errorCode(refused).swy, "SWY_SESSION_NOT_FOUND");
    assert.equal((await ping(a)).status, 200, "the other session is served");
    assert.equal((await admin("DELETE", `/sessions/svc/${first?.id}`, ADMIN)).status, 404, "revoked already");
    const all = await admin("DELETE", "/sessions?route=svc", ADMIN);
    assert.equal(all.status, 200);
    assert.ok((JSON.parse(all.body.toString()) as { revoked: number }).revoked >= 1);
    assert.equal((await ping(a)).status, 404);
    assert.deepEqual(JSON.parse((await admin("GET", "/sessions?route=svc", READ)).body.toString()).sessions, []);
    assert.deepEqual(JSON.parse((await admin("GET", "/me", READ)).body.toString()), { access: "read" });
    assert.deepEqual(JSON.parse((await admin("GET", "/me", ADMIN)).body.toString()), { access: "admin" });
  });

  it("GET /check?route=NAME: switchyard check run by the gateway against its own route, its report", async () => {
    const res = await admin("GET", "/check?route=svc&repeat=3", READ);
    assert.equal(res.status, 200, res.body.toString());
    const report = JSON.parse(res.body.toString()) as {
      url: string;
      ok: boolean;
      findings: Array<{ id: string; status: string; title: string }>;
    };
    assert.equal(report.url, `${gateway.base}/svc/mcp`);
    const affinity = report.findings.find((f) => f.id === "session.affinity");
    assert.equal(affinity?.status, "pass", JSON.stringify(report.findings));
    // A route whose replica is gone: the report says what fails.
    const dead = JSON.parse((await admin("GET", "/check?route=dead&repeat=1", READ)).body.toString()) as typeof report;
    assert.equal(dead.ok, false);
    assert.ok(dead.findings.some((f) => f.status === "fail"));
    const unknown = await admin("GET", "/check?route=nope", READ);
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown).swy, "SWY_ADMIN_NOT_FOUND");
  });

  it("GET /config: the running configuration with its secrets masked, when it was loaded, the last refused reload", async () => {
    const first = await admin("GET", "/config", READ);
    assert.equal(first.status, 200);
    const text = first.body.toString();
    for (const secret of [ADMIN, READ, UPSTREAM_SECRET]) assert.ok(!text.includes(secret), "no secret shown");
    const shown = JSON.parse(text) as {
      config: { upstreams: Record<string, { replicas: string[]; headers: Record<string, string> }> };
      loadedAt: string;
      lastRefused: { trigger: string; errors: string[] } | undefined;
    };
    assert.deepEqual(shown.config.upstreams.svc?.replicas, [replica.url]);
    assert.deepEqual(Object.keys(shown.config.upstreams.svc?.headers ?? {}), ["authorization"], "named, not shown");
    assert.equal(shown.lastRefused, undefined);
    // A reload refused: named, with its errors; the running configuration stays.
    writeFileSync(file, yaml("balancr: x\n"));
    gateway.child.kill("SIGHUP");
    await waitFor("the refusal", async () => {
      const now = JSON.parse((await admin("GET", "/config", READ)).body.toString()) as typeof shown;
      return now.lastRefused !== undefined;
    });
    const refused = JSON.parse((await admin("GET", "/config", READ)).body.toString()) as typeof shown;
    assert.equal(refused.lastRefused?.trigger, "signal");
    assert.match(refused.lastRefused?.errors.join("\n") ?? "", /balancr: unknown key/);
    assert.equal(refused.loadedAt, shown.loadedAt, "still the configuration loaded at start");
    // One applied: a new load time; the route it adds shows.
    writeFileSync(file, yaml(`  extra:\n    replicas: [${replica.url}]\n`));
    gateway.child.kill("SIGHUP");
    await waitFor("the reload", async () => {
      const now = JSON.parse((await admin("GET", "/config", ADMIN)).body.toString()) as typeof shown;
      return "extra" in now.config.upstreams && now.loadedAt > shown.loadedAt;
    });
  });
});
