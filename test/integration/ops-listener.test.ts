import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { check } from "../helpers/check.js";
import { errorCode, rawRequest } from "../helpers/http.js";
import { connect, INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  freePort,
  type GatewayProc,
  owned,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";

const ADMIN = "ops-admin-token-0123456789";
const METRICS = "ops-metrics-token-0123456789";

/** Every sample line of a Prometheus text page is `name{labels} value`; comments are `# HELP`/`# TYPE`. */
function assertPrometheusText(text: string): void {
  const lines = text.split("\n").filter((l) => l !== "");
  assert.ok(lines.length > 10);
  for (const line of lines) {
    assert.match(
      line,
      /^(# (HELP|TYPE) \w+ .*|[a-zA-Z_:][\w:]*(\{[^}]*\})? -?[\d.e+-]+|[a-zA-Z_:][\w:]*(\{[^}]*\})? (NaN|\+Inf|-Inf))$/,
      line,
    );
  }
}

describe("an operations listener (ops.listen): operations off the public side", () => {
  const procs = owned();
  let replica: ExampleReplica;
  let gateway: GatewayProc;
  let ops: string;

  before(async () => {
    replica = await procs.own(startReplica("ops-r1"));
    const port = await freePort();
    gateway = await procs.own(
      startGateway([
        "--config",
        writeConfig(`logLevel: warn
ops:
  listen: 127.0.0.1:${port}
admin:
  token: ${ADMIN}
upstreams:
  svc:
    replicas: [${replica.url}]
`),
      ]),
    );
    ops = gateway.ops as string;
    assert.equal(ops, `http://127.0.0.1:${port}`);
  });
  after(() => procs.stopAll());

  it("answers only MCP, discovery and bare health on the public listener: operations are 404 there", async () => {
    const s = await connect(gateway.route("svc"), "public");
    assert.equal((await s.whoami()).replica, "ops-r1");
    await s.close();
    for (const path of ["/metrics", "/admin/v1/tenants", "/admin/v1"]) {
      const res = await rawRequest(`${gateway.base}${path}`, {
        method: "GET",
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.equal(res.status, 404, path);
      assert.equal(errorCode(res).swy, "SWY_ROUTE_NOT_FOUND", `${path}: like any unknown path`);
    }
    const ready = await fetch(`${gateway.base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" }, "ready or not, and nothing more");
    assert.equal((await fetch(`${gateway.base}/healthz`)).status, 200);
    assert.equal((await fetch(`${gateway.base}/.well-known/mcp`)).status, 200);
  });

  it("serves metrics, readiness in detail and the admin API on the operations listener, and nothing else", async () => {
    const metrics = await fetch(`${ops}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assertPrometheusText(text);
    assert.ok(text.includes(replica.url), "the operator sees the replicas");
    const ready = (await (await fetch(`${ops}/readyz`)).json()) as { routes: Record<string, unknown> };
    assert.deepEqual(Object.keys(ready.routes), ["svc"]);
    const tenants = await fetch(`${ops}/admin/v1/tenants`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(tenants.status, 200);
    assert.equal((await fetch(`${ops}/healthz`)).status, 200);
    const mcp = await rawRequest(`${ops}/svc/mcp`, { headers: MCP_HEADERS, body: JSON.stringify(INIT_BODY) });
    assert.equal(mcp.status, 404, "no MCP on the operations listener");
  });

  it("passes switchyard check's exposure audit; a gateway with everything on its public port is warned", async () => {
    const audited = await check([gateway.route("svc")]);
    assert.equal(audited.status("exposure"), "pass", audited.problems());
    const open = await procs.own(
      startGateway([
        "--config",
        writeConfig(`logLevel: warn
admin:
  token: ${ADMIN}
diagnostics:
  enabled: true
upstreams:
  svc:
    replicas: [${replica.url}]
`),
      ]),
    );
    const warned = await check([open.route("svc")]);
    assert.equal(warned.status("exposure"), "warn");
    assert.match(warned.title("exposure"), /\/metrics/);
    assert.match(warned.title("exposure"), /diagnostics/);
    assert.doesNotMatch(warned.title("exposure"), /admin/, "the admin API asks for its token");
  });
});

describe("a public listener without ops.listen: the secure default", () => {
  const procs = owned();
  let replica: ExampleReplica;

  before(async () => {
    replica = await procs.own(startReplica("ops-r2"));
  });
  after(() => procs.stopAll());

  const start = (extra = "") =>
    procs.own(
      startGateway([
        "--listen",
        "0.0.0.0:0",
        "--config",
        writeConfig(`logLevel: warn\n${extra}upstreams:\n  svc:\n    replicas: [${replica.url}]\n`),
      ]),
    );

  it("keeps metrics and the detail of readiness to itself, and says how to expose them", async () => {
    const gateway = await start();
    const base = gateway.base.replace("0.0.0.0", "127.0.0.1");
    const listening = gateway.lines.find((l) => l.includes('"listening"')) as string;
    assert.match(listening, /set ops\.listen .* or metrics\.token/);
    const metrics = await rawRequest(`${base}/metrics`, { method: "GET", headers: {} });
    assert.equal(metrics.status, 404);
    assert.ok(!metrics.body.toString().includes(replica.url));
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: "ready" });
  });

  it("serves them for metrics.token", async () => {
    const gateway = await start(`metrics:\n  token: ${METRICS}\n`);
    const base = gateway.base.replace("0.0.0.0", "127.0.0.1");
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const auth = { authorization: `Bearer ${METRICS}` };
    const metrics = await fetch(`${base}/metrics`, { headers: auth });
    assert.equal(metrics.status, 200);
    assertPrometheusText(await metrics.text());
    const ready = (await (await fetch(`${base}/readyz`, { headers: auth })).json()) as { routes?: unknown };
    assert.ok(ready.routes, "the detail, for the operator");
    assert.ok(!gateway.lines.some((l) => l.includes("set ops.listen")), "nothing to say");
  });
});
