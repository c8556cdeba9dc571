import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { parseReplicaEntry, replicaUrlAt } from "../../src/upstream/replica-entry.js";

describe("replica entries: a process, or a DNS name whose records are the replicas", () => {
  it("reads listed URLs, A/AAAA names and SRV names, with the HTTP+SSE marker", () => {
    assert.deepEqual(parseReplicaEntry("http://10.0.0.5:3000/mcp"), {
      kind: "static",
      url: "http://10.0.0.5:3000/mcp",
      sse: false,
    });
    assert.deepEqual(parseReplicaEntry("dns+http://tickets.mcp.svc.cluster.local:3000/mcp"), {
      kind: "dns",
      protocol: "http:",
      name: "tickets.mcp.svc.cluster.local",
      port: 3000,
      path: "/mcp",
      sse: false,
    });
    assert.deepEqual(parseReplicaEntry("dns+https://tickets.example/mcp?x=1"), {
      kind: "dns",
      protocol: "https:",
      name: "tickets.example",
      port: 443,
      path: "/mcp?x=1",
      sse: false,
    });
    assert.deepEqual(parseReplicaEntry("dns+srv+sse+http://_mcp._tcp.tickets.example/sse"), {
      kind: "srv",
      protocol: "http:",
      name: "_mcp._tcp.tickets.example",
      path: "/sse",
      sse: true,
    });
  });

  it("refuses what cannot name replicas, saying why", () => {
    const error = (v: string) => (parseReplicaEntry(v) as { error?: string }).error;
    assert.match(error("ftp://x/mcp") ?? "", /http:\/\/ or https:\/\//);
    assert.match(error("dns+http://u:p@name:3000/mcp") ?? "", /credentials/);
    assert.match(error("dns+http://10.0.0.5:3000/mcp") ?? "", /DNS name, not an address/);
    assert.match(error("dns+srv+http://_mcp._tcp.name:3000/mcp") ?? "", /no port/);
    assert.match(error("dns+srv+http://tickets.example/mcp") ?? "", /_mcp._tcp/);
  });

  it("names a discovered replica by its address and port, the same on every gateway", () => {
    assert.equal(replicaUrlAt({ protocol: "http:", path: "/mcp" }, "10.0.0.7", 3000), "http://10.0.0.7:3000/mcp");
    assert.equal(replicaUrlAt({ protocol: "https:", path: "/mcp" }, "fd00::7", 443), "https://[fd00::7]:443/mcp");
  });

  it("sets transport: sse for dns+sse+ entries, and refuses a pool that mixes transports", () => {
    const config = loadConfig({ flags: { upstream: ["legacy=dns+sse+http://old.example:3001/sse"] } });
    assert.equal(config.upstreams.legacy?.transport, "sse");
    assert.deepEqual(config.upstreams.legacy?.replicas, ["dns+http://old.example:3001/sse"]);
    assert.throws(
      () => loadConfig({ flags: { upstream: ["mixed=dns+sse+http://a.example/sse,http://b/mcp"] } }),
      /same transport/,
    );
  });
});
