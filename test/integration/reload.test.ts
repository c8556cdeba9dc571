import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { connect, INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  type GatewayProc,
  owned,
  startAll,
  startGateway,
  startReplica,
} from "../helpers/procs.js";
import { openSse, type SseStream } from "../helpers/sse.js";
import { metricValue, waitFor } from "../helpers/wait.js";

const reloads = (gateway: GatewayProc, outcome: "applied" | "refused") =>
  metricValue(`${gateway.base}/metrics`, `switchyard_config_reloads_total{outcome="${outcome}"}`);

/** A configuration with one route per entry of `routes` (name → replica URL). */
function yaml(routes: Record<string, string>, extra = ""): string {
  const lines = Object.entries(routes).map(([name, url]) => `  ${name}:\n    replicas: [${url}]`);
  return `logLevel: info\ntimeouts:\n  shutdownGrace: 1s\nupstreams:\n${lines.join("\n")}\n${extra}`;
}

/** A new session on `url` (raw initialize): its id. */
async function session(url: string): Promise<string> {
  const res = await rawRequest(url, { body: JSON.stringify(INIT_BODY) });
  assert.equal(res.status, 200, res.body.toString());
  return res.headers["mcp-session-id"] as string;
}

/** A `countdown` call that streams `steps` progress events `delayMs` apart, then its answer. */
function countdown(url: string, sid: string, steps: number, delayMs: number): Promise<SseStream> {
  return openSse(url, {
    method: "POST",
    headers: sessionHeaders(sid),
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name: "countdown", arguments: { steps, delayMs }, _meta: { progressToken: "p" } },
    }),
  });
}

const answered = (s: SseStream) => s.events.some((e) => e.data.includes('"result"') && e.data.includes('"id":7'));
const progress = (s: SseStream) => s.events.filter((e) => e.data.includes("notifications/progress")).length;

// Each test as one process, and as one gateway of two workers (each reloads; the metrics sum them).
for (const workers of [1, 2])
  describe(`live reconfiguration (SIGHUP, --watch): routes added, changed and removed without a restart${workers > 1 ? ", --workers 2" : ""}`, () => {
    const procs = owned();
    let r1: ExampleReplica;
    let r2: ExampleReplica;
    let dir: string;
    let file: string;
    let gateway: GatewayProc;

    before(async () => {
      [r1, r2] = (await startAll([startReplica("r1"), startReplica("r2")])) as [ExampleReplica, ExampleReplica];
      procs.own(r1);
      procs.own(r2);
      dir = mkdtempSync(join(tmpdir(), "swy-reload-"));
      file = join(dir, "switchyard.yaml");
      writeFileSync(file, yaml({ a: r1.url, b: r2.url }));
      gateway = await procs.own(startGateway(["--config", file, "--watch", "--workers", String(workers)]));
    });
    after(() => procs.stopAll());

    it("SIGHUP under load: a route added, one removed; streams of the routes that stay are not cut", async () => {
      const sa = await session(`${gateway.base}/a/mcp`);
      const sb = await session(`${gateway.base}/b/mcp`);
      // A stream on the route that stays (3 s) and one on the route about to go (far longer than the grace).
      const staying = await countdown(`${gateway.base}/a/mcp`, sa, 30, 100);
      const leaving = await countdown(`${gateway.base}/b/mcp`, sb, 300, 100);
      const client = await connect(`${gateway.base}/a/mcp`, "under-load");
      let stop = false;
      const failures: string[] = [];
      let calls = 0;
      const load = (async () => {
        while (!stop) {
          try {
            assert.equal((await client.whoami()).replica, "r1");
            calls++;
          } catch (err) {
            failures.push(String(err));
          }
        }
      })();
      await staying.next((e) => e.data.includes("notifications/progress"));
      writeFileSync(file, yaml({ a: r1.url, c: r2.url }));
      gateway.child.kill("SIGHUP");
      await waitFor("the reload to be applied", async () => (await reloads(gateway, "applied")) >= workers);
      // The new route serves; the removed one is unknown to new requests.
      const c = await connect(`${gateway.base}/c/mcp`, "new-route");
      assert.equal((await c.whoami()).replica, "r2");
      const gone = await rawRequest(`${gateway.base}/b/mcp`, { headers: MCP_HEADERS, body: JSON.stringify(INIT_BODY) });
      assert.equal(gone.status, 404);
      assert.match(gone.body.toString(), /SWY_ROUTE_NOT_FOUND/);
      // The removed route's stream ends after the grace (1 s), long before its 30 s.
      await leaving.ended;
      assert.ok(!answered(leaving) && progress(leaving) < 300, "the removed route's stream was ended");
      // The stream of the route that stayed ran to its end, every event delivered.
      await staying.ended;
      assert.equal(progress(staying), 30);
      assert.ok(answered(staying), "its answer arrived");
      const before = calls;
      await waitFor("calls to go on", () => calls > before + 5);
      stop = true;
      await load;
      assert.deepEqual(failures, [], "no call of the route that stayed failed across the reload");
      await Promise.all([client.close(), c.close()]);
    });

    it("--watch: a changed file is applied; one that does not validate is refused, the running one stays", async () => {
      const applied = await reloads(gateway, "applied");
      writeFileSync(file, yaml({ a: r1.url, c: r2.url, d: r1.url }));
      await waitFor(
        "the change on disk to be applied",
        async () => (await reloads(gateway, "applied")) >= applied + workers,
      );
      const d = await connect(`${gateway.base}/d/mcp`, "watched");
      assert.equal((await d.whoami()).replica, "r1");
      await d.close();
      // Unknown key, bad URL: both named; nothing changes.
      writeFileSync(file, `${yaml({ a: r1.url, e: "ftp://nowhere" })}balancr: x\n`);
      await waitFor("the refusal", async () => (await reloads(gateway, "refused")) >= workers);
      // The log line arrives on the gateway's stdout a moment after the metric counts the refusal.
      const line = await gateway.waitForLine((l) => l.includes("configuration refused"));
      assert.match(line, /balancr: unknown key/);
      assert.match(line, /upstreams\.e\.replicas\.0/);
      const still = await connect(`${gateway.base}/d/mcp`, "still");
      assert.equal((await still.whoami()).replica, "r1", "the running configuration stays");
      await still.close();
      // An option fixed at start: refused, named.
      writeFileSync(file, yaml({ a: r1.url }, "health:\n  enabled: false\n"));
      await waitFor("the second refusal", async () => (await reloads(gateway, "refused")) >= 2 * workers);
      await gateway.waitForLine((l) => l.includes("health.enabled: cannot change while running"));
      assert.equal((await rawRequest(`${gateway.base}/d/mcp`, { body: JSON.stringify(INIT_BODY) })).status, 200);
    });
  });

describe("--watch on a Kubernetes ConfigMap volume (the file is a symlink through ..data, swapped atomically)", () => {
  const procs = owned();

  after(() => procs.stopAll());

  it("applies the new version when ..data is swapped", async () => {
    const [r1, r2] = await startAll([startReplica("k1"), startReplica("k2")]);
    procs.own(r1 as ExampleReplica);
    procs.own(r2 as ExampleReplica);
    const dir = mkdtempSync(join(tmpdir(), "swy-configmap-"));
    const version = (n: number, body: string) => {
      mkdirSync(join(dir, `..v${n}`));
      writeFileSync(join(dir, `..v${n}`, "switchyard.yaml"), body);
      symlinkSync(`..v${n}`, join(dir, `..data_tmp`));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    };
    version(1, yaml({ k: (r1 as ExampleReplica).url }));
    symlinkSync("..data/switchyard.yaml", join(dir, "switchyard.yaml"));
    const gateway = await procs.own(startGateway(["--config", join(dir, "switchyard.yaml"), "--watch"]));
    const sid = await session(`${gateway.base}/k/mcp`);
    version(2, yaml({ k: (r1 as ExampleReplica).url, k2: (r2 as ExampleReplica).url }));
    await waitFor("the swapped version to be applied", async () => (await reloads(gateway, "applied")) >= 1);
    const k2 = await connect(`${gateway.base}/k2/mcp`, "configmap");
    assert.equal((await k2.whoami()).replica, "k2");
    await k2.close();
    const res = await rawRequest(`${gateway.base}/k/mcp`, {
      headers: sessionHeaders(sid),
      body: rpc("tools/call", { name: "whoami", arguments: {} }, 3),
    });
    assert.equal(res.status, 200, "the route that stayed kept its session");
  });
});
