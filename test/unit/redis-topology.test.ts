import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { redisOptionsFrom, topologyOf, usesRedis } from "../../src/redis/client.js";
import { parseClusterNodes, parseSentinelUrl } from "../../src/redis/topology.js";

describe("Redis deployments: one server, Sentinel, Cluster", () => {
  it("reads a Sentinel URL: the sentinels, the primary's name, the data nodes' credentials, TLS and database", () => {
    assert.deepEqual(parseSentinelUrl("redis+sentinel://u:p%40ss@10.0.0.1:26379,10.0.0.2,[::1]:26380/mymaster/2"), {
      kind: "sentinel",
      name: "mymaster",
      sentinels: [
        { host: "10.0.0.1", port: 26379 },
        { host: "10.0.0.2", port: 26379 },
        { host: "::1", port: 26380 },
      ],
      tls: false,
      database: 2,
      username: "u",
      password: "p@ss",
    });
    const tls = parseSentinelUrl("rediss+sentinel://:secret@s1:26379/m");
    assert.equal(tls.tls, true);
    assert.equal(tls.username, undefined);
    assert.equal(tls.password, "secret");
    for (const bad of ["redis+sentinel://s1:26379", "redis+sentinel://s1:99999/m", "redis+sentinel:///m"]) {
      assert.throws(() => parseSentinelUrl(bad), /Sentinel URL|HOST:PORT/, bad);
    }
  });

  it("reads a Cluster's nodes, all redis:// or all rediss://", () => {
    assert.deepEqual(parseClusterNodes(["redis://a:7000", "b:7001", "redis://user:pw@c"]), {
      kind: "cluster",
      nodes: [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
        { host: "c", port: 6379 },
      ],
      tls: false,
      username: undefined,
      password: undefined,
    });
    assert.equal(parseClusterNodes(["rediss://u:p@a:7000"]).password, "p");
    assert.throws(() => parseClusterNodes(["redis://a:7000", "rediss://b:7001"]), /all redis:\/\/ or all rediss:\/\//);
    assert.throws(() => parseClusterNodes([]), /at least one node/);
  });

  it("takes them from the configuration file, refusing what cannot work", () => {
    const dir = mkdtempSync(join(tmpdir(), "swy-unit-"));
    const load = (text: string) => {
      const file = join(dir, `c${Math.random()}.yaml`);
      writeFileSync(file, text);
      return loadConfig({ file });
    };
    const sentinel = load(
      "store:\n  url: redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/m\n  sentinel:\n    password: s3\n",
    );
    assert.equal(usesRedis(sentinel), true);
    assert.equal(topologyOf(redisOptionsFrom(sentinel)).kind, "sentinel");
    assert.deepEqual(redisOptionsFrom(sentinel).sentinelAuth, { username: undefined, password: "s3" });
    const cluster = load("store:\n  cluster: [redis://10.0.0.1:7000, 10.0.0.2:7000]\n");
    assert.equal(usesRedis(cluster), true);
    assert.equal(topologyOf(redisOptionsFrom(cluster)).kind, "cluster");
    assert.equal(usesRedis(load("store:\n  url: memory\n")), false);
    assert.throws(() => load("store:\n  url: redis+sentinel://10.0.0.1:26379\n"), /store\.url/);
    assert.throws(
      () => load("store:\n  url: redis://10.0.0.1:6379\n  cluster: [redis://10.0.0.2:7000]\n"),
      /give store\.url or store\.cluster, not both/,
    );
    assert.throws(
      () => load("store:\n  url: redis://10.0.0.1:6379\n  sentinel:\n    password: x\n"),
      /redis\+sentinel/,
    );
    assert.throws(() => load("store:\n  cluster: [redis://a:1, rediss://b:2]\n"), /store\.cluster/);
    assert.throws(
      () => load("store:\n  cluster: [redis://a:7000]\n  tls:\n    ca: /x/ca.pem\n"),
      /TLS options need a rediss:\/\/ store URL/,
    );
  });
});
