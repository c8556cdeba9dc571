import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { errorCode, rawRequest } from "../helpers/http.js";
import { type GatewayProc, type Replica, startGateway, startReplica, writeConfig } from "../helpers/procs.js";

const TOKEN = "admin-token-0123456789abcdef";

describe("the admin API: tenants and keys", () => {
  let replica: Replica;
  let gateway: GatewayProc;
  let config: string;
  let dataDir: string;

  const admin = (method: string, path: string, body?: unknown, token = TOKEN) =>
    rawRequest(`${gateway.base}/admin/v1${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const json = (res: { body: Buffer }) => JSON.parse(res.body.toString());

  before(async () => {
    replica = await startReplica("r");
    dataDir = mkdtempSync(join(tmpdir(), "swy-admin-"));
    config = writeConfig(
      `logLevel: info\nadmin:\n  dataDir: ${dataDir}\nupstreams:\n  svc:\n    replicas: [${replica.url}]\n`,
    );
    gateway = await startGateway(["--config", config, "--admin-token", TOKEN]);
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  it("refuses a missing or wrong token with 401 and WWW-Authenticate", async () => {
    for (const res of [
      await rawRequest(`${gateway.base}/admin/v1/tenants`, { method: "GET", headers: {} }),
      await admin("GET", "/tenants", undefined, "wrong-token-0123456789"),
    ]) {
      assert.equal(res.status, 401);
      assert.equal(errorCode(res).swy, "SWY_ADMIN_UNAUTHORIZED");
      assert.match(String(res.headers["www-authenticate"]), /^Bearer /);
    }
  });

  it("creates, lists, gets and deletes tenants; 409 for a duplicate, 400 for a bad id, 404 for an unknown one", async () => {
    const created = await admin("POST", "/tenants", { id: "acme" });
    assert.equal(created.status, 201);
    assert.equal(json(created).id, "acme");
    assert.equal((await admin("POST", "/tenants", { id: "acme" })).status, 409);
    const bad = await admin("POST", "/tenants", { id: "Not Valid!" });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad).swy, "SWY_ADMIN_INVALID");
    assert.equal((await admin("POST", "/tenants", "[")).status, 400);
    assert.equal((await admin("POST", "/tenants", { id: "globex" })).status, 201);
    assert.deepEqual(
      json(await admin("GET", "/tenants")).tenants.map((t: { id: string }) => t.id),
      ["acme", "globex"],
    );
    assert.equal(json(await admin("GET", "/tenants/acme")).id, "acme");
    assert.equal((await admin("DELETE", "/tenants/globex")).status, 204);
    assert.equal((await admin("GET", "/tenants/globex")).status, 404);
    assert.equal((await admin("DELETE", "/tenants/globex")).status, 404);
  });

  it("shows a key once, keeps only its hash, lists ids, revokes; the state survives a restart", async () => {
    const created = await admin("POST", "/tenants/acme/keys");
    assert.equal(created.status, 201);
    const { id, key } = json(created);
    assert.match(key, /^swy_[A-Za-z0-9_-]{43}$/);
    const listed = json(await admin("GET", "/tenants/acme/keys")).keys;
    assert.deepEqual(
      listed.map((k: { id: string }) => k.id),
      [id],
    );
    assert.ok(!JSON.stringify(listed).includes(key), "a listing never shows the key");
    const onDisk = readFileSync(join(dataDir, "tenants.json"), "utf8");
    assert.ok(!onDisk.includes(key), "the key is not written down, only its hash");
    const second = json(await admin("POST", "/tenants/acme/keys"));
    assert.equal((await admin("DELETE", `/tenants/acme/keys/${second.id}`)).status, 204);
    assert.equal((await admin("DELETE", `/tenants/acme/keys/${second.id}`)).status, 404);
    assert.equal((await admin("POST", "/tenants/nobody/keys")).status, 404);

    await gateway.stop();
    gateway = await startGateway(["--config", config, "--admin-token", TOKEN]);
    assert.deepEqual(
      json(await admin("GET", "/tenants/acme/keys")).keys.map((k: { id: string }) => k.id),
      [id],
    );
    assert.equal(json(await admin("GET", "/tenants")).tenants.length, 1);
    const log = gateway.lines.join("\n");
    assert.ok(!log.includes(TOKEN) && !log.includes(key), "neither the admin token nor a key is logged");
  });

  it("is not there without an admin token", async () => {
    const plain = await startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "warn"]);
    try {
      const res = await rawRequest(`${plain.base}/admin/v1/tenants`, { method: "GET", headers: {} });
      assert.equal(res.status, 404);
    } finally {
      await plain.stop();
    }
  });
});

describe("metrics access control", () => {
  it("answers /metrics only with metrics.token when one is set, and shows no secret", async () => {
    const token = "metrics-token-0123456789";
    const g = await startGateway([
      "--config",
      writeConfig(
        `logLevel: warn\nmetrics:\n  token: ${token}\nupstreams:\n  svc:\n    replicas: ["http://127.0.0.1:9/mcp"]\n`,
      ),
    ]);
    try {
      const refused = await rawRequest(`${g.base}/metrics`, { method: "GET", headers: {} });
      assert.equal(refused.status, 401);
      assert.equal(errorCode(refused).swy, "SWY_METRICS_UNAUTHORIZED");
      const wrong = await rawRequest(`${g.base}/metrics`, { method: "GET", headers: { authorization: "Bearer nope" } });
      assert.equal(wrong.status, 401);
      const ok = await rawRequest(`${g.base}/metrics`, {
        method: "GET",
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(ok.status, 200);
      const text = ok.body.toString();
      assert.match(text, /switchyard_requests_total/);
      assert.ok(!text.includes(token));
    } finally {
      await g.stop();
    }
  });
});
