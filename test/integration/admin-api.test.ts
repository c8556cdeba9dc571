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

describe("the admin API: tenant servers", () => {
  it("registers checked URLs (422 for refused ones), keeps upstream headers secret, lists, replaces, deletes", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "swy-admin-"));
    const g = await startGateway([
      "--config",
      writeConfig(
        `logLevel: info\nadmin:\n  dataDir: ${dataDir}\nupstreams:\n  svc:\n    replicas: ["http://127.0.0.1:9/mcp"]\n`,
      ),
      "--admin-token",
      TOKEN,
    ]);
    const call = (method: string, path: string, body?: unknown) =>
      rawRequest(`${g.base}/admin/v1${path}`, {
        method,
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const json = (res: { body: Buffer }) => JSON.parse(res.body.toString());
    try {
      assert.equal((await call("POST", "/tenants", { id: "acme" })).status, 201);
      const secret = "Bearer upstream-SECRET-77";
      const created = await call("POST", "/tenants/acme/servers", {
        name: "s1",
        url: "https://MCP.Example.com./mcp",
        headers: { Authorization: secret },
      });
      assert.equal(created.status, 201);
      assert.deepEqual(
        { ...json(created), createdAt: undefined },
        {
          name: "s1",
          url: "https://mcp.example.com/mcp",
          transport: "streamable-http",
          headers: ["authorization"],
          createdAt: undefined,
        },
      );
      assert.equal(
        (await call("POST", "/tenants/acme/servers", { name: "s1", url: "https://a.example/mcp" })).status,
        409,
      );
      for (const url of [
        "http://a.example/mcp",
        "https://127.0.0.1/mcp",
        "https://0x7f.1/mcp",
        "https://169.254.169.254/",
        "https://u:p@a.example/",
        "https://a.example:6379/",
      ]) {
        const refused = await call("POST", "/tenants/acme/servers", { name: "bad", url });
        assert.equal(refused.status, 422, url);
        assert.equal(errorCode(refused).swy, "SWY_ADMIN_URL_REFUSED", url);
      }
      const badHeader = await call("POST", "/tenants/acme/servers", {
        name: "h",
        url: "https://a.example/mcp",
        headers: { Host: "x" },
      });
      assert.equal(badHeader.status, 400);
      const shown = await call("GET", "/tenants/acme/servers/s1");
      assert.deepEqual(json(shown).headers, ["authorization"]);
      assert.ok(!shown.body.toString().includes("SECRET"), "upstream credentials are never shown back");
      const replaced = await call("PUT", "/tenants/acme/servers/s1", {
        url: "https://other.example/mcp",
        transport: "sse",
      });
      assert.equal(replaced.status, 200);
      assert.equal(json(replaced).transport, "sse");
      const listed = await call("GET", "/tenants/acme/servers");
      assert.deepEqual(
        json(listed).servers.map((s: { name: string }) => s.name),
        ["s1"],
      );
      assert.equal((await call("DELETE", "/tenants/acme/servers/s1")).status, 204);
      assert.equal((await call("GET", "/tenants/acme/servers/s1")).status, 404);
      assert.ok(!g.lines.join("\n").includes("SECRET"), "nor logged");
    } finally {
      await g.stop();
    }
  });
});
