import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { INIT, LEGACY, rpc, send } from "../../bench/chaos/http.js";
import { type ExampleReplica, type GatewayProc, startGateway, startReplica, writeConfig } from "../helpers/procs.js";
import { type RedisDeployment, type Secure, startDeployment } from "../helpers/redis-topologies.js";
import { makeTestPki } from "../helpers/tls.js";

/**
 * Sentinel and Cluster as a careful team runs them: TLS everywhere (the servers' certificates checked
 * against the CA), an ACL user on the data nodes with the default user off, a password of the sentinels'
 * own. A gateway given those in its configuration serves sessions; one with a wrong password serves none.
 */
for (const kind of ["sentinel", "cluster"] as const) {
  describe(`the Redis store on ${kind} over TLS with ACL credentials`, () => {
    const secure: Secure = {
      pki: makeTestPki(),
      user: "switchyard",
      password: "data-pass-1234",
      sentinelPassword: "sentinel-pass-5678",
    };
    let redis: RedisDeployment;
    let replica: ExampleReplica;
    const gateways: GatewayProc[] = [];
    before(async () => {
      redis = await startDeployment(kind, secure);
      replica = await startReplica("r1");
    });
    after(async () => {
      await Promise.all(gateways.map((g) => g.stop()));
      await replica?.stop();
      await redis?.stop();
    });

    const gateway = async (storeYaml: string) => {
      const config = writeConfig(`store:\n${storeYaml}upstreams:\n  svc:\n    replicas: [${replica.url}]\n`);
      const g = await startGateway(["--config", config]);
      gateways.push(g);
      return g;
    };

    it("serves sessions, stored in Redis behind TLS and an ACL user", async () => {
      const g = await gateway(redis.storeYaml);
      const init = await send(`${g.base}/svc/mcp`, { body: INIT(0) });
      assert.equal(init.status, 200, init.body.toString());
      const sid = String(init.headers["mcp-session-id"]);
      const call = await send(`${g.base}/svc/mcp`, {
        headers: { ...LEGACY, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" },
        body: rpc("tools/call", { name: "whoami", arguments: {} }, 1),
      });
      assert.equal(call.status, 200, call.body.toString());
      const client = await redis.client();
      const keys: string[] = [];
      for await (const found of client.scanIterator({ MATCH: "swy:s:svc:*" })) keys.push(...found.map(String));
      assert.equal(keys.length, 1, "the session is in Redis");
    });

    it("refuses with 503, and keeps running, when the data nodes' password is wrong", async () => {
      const g = await gateway(redis.storeYaml.replaceAll(secure.password, "wrong-password"));
      const init = await send(`${g.base}/svc/mcp`, { body: INIT(0) });
      assert.equal(init.status, 503, init.body.toString());
      assert.match(init.body.toString(), /SWY_STORE_UNAVAILABLE/);
      assert.equal((await send(`${g.base}/healthz`, { method: "GET" })).status, 200);
    });
  });
}
