import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, parseUpstreamFlag } from "../../src/config/load.js";
import { configReference } from "../../src/config/reference.js";

describe("configuration", () => {
  it("has working defaults", () => {
    const c = loadConfig({ flags: { upstream: ["a=http://127.0.0.1:1/mcp"] } });
    assert.equal(c.listen, "127.0.0.1:8080");
    assert.equal(c.sessions.idleTtl, 3_600_000);
    assert.equal(c.heartbeat.interval, 15_000);
    assert.equal(c.limits.maxBodyBytes, 4 * 1024 * 1024);
    assert.equal(c.upstreams.a?.balancer, "least-in-flight");
  });

  it("parses durations and sizes", () => {
    const file = join(mkdtempSync(join(tmpdir(), "swy-unit-")), "c.yaml");
    for (const [text, ms] of [
      ["250ms", 250],
      ["1.5s", 1500],
      ["2m", 120_000],
    ] as const) {
      writeFileSync(file, `timeouts:\n  upstreamConnect: ${text}\nlimits:\n  maxBodyBytes: 1MiB\n`);
      const parsed = loadConfig({ file });
      assert.equal(parsed.timeouts.upstreamConnect, ms);
      assert.equal(parsed.limits.maxBodyBytes, 1024 * 1024);
    }
  });

  it("bug: a duration or size too large to be exact (up to infinite) was accepted", () => {
    const file = join(mkdtempSync(join(tmpdir(), "swy-unit-")), "c.yaml");
    for (const [key, text] of [
      ["sessions:\n  idleTtl", `${"9".repeat(400)}h`],
      ["sessions:\n  idleTtl", "9999999999999h"],
      ["limits:\n  maxBodyBytes", "9007199254740993"],
    ] as const) {
      writeFileSync(file, `${key}: "${text}"\n`);
      assert.throws(
        () => loadConfig({ file, flags: { upstream: ["a=http://127.0.0.1:1/mcp"] } }),
        (err: Error) => err instanceof ConfigError && err.message.includes(`"${text}" is too large`),
        text,
      );
    }
  });

  it("bug: a duration longer than a Node timer can wait (24.8 days) fired every millisecond", () => {
    const file = join(mkdtempSync(join(tmpdir(), "swy-unit-")), "c.yaml");
    const flags = { upstream: ["a=http://127.0.0.1:1/mcp"] };
    writeFileSync(file, "sessions:\n  idleTtl: 1000h\n");
    assert.throws(
      () => loadConfig({ file, flags }),
      (err: Error) =>
        err instanceof ConfigError && /sessions\.idleTtl/.test(err.message) && /at most 24d/.test(err.message),
    );
    writeFileSync(file, "sessions:\n  idleTtl: 596h\ntokens:\n  maxAge: 2160h\n");
    const ok = loadConfig({ file, flags });
    assert.equal(ok.sessions.idleTtl, 596 * 3_600_000);
    assert.equal(ok.tokens.maxAge, 2160 * 3_600_000, "a token's age is no timer: it may be longer");
  });

  it("splits --upstream NAME=URL,URL", () => {
    assert.deepEqual(parseUpstreamFlag("svc=http://a/mcp, http://b/mcp"), ["svc", ["http://a/mcp", "http://b/mcp"]]);
    assert.throws(() => parseUpstreamFlag("=http://a"), ConfigError);
    assert.throws(() => parseUpstreamFlag("bad name=http://a"), ConfigError);
    assert.throws(() => parseUpstreamFlag("svc="), ConfigError);
  });

  it("refuses bad values and unknown keys, naming them", () => {
    assert.throws(
      () => loadConfig({ flags: { listen: "nonsense", upstream: ["a=http://u@h/mcp"] } }),
      (err: Error) =>
        err instanceof ConfigError &&
        /listen: must be HOST:PORT/.test(err.message) &&
        /upstreams\.a\.replicas\.0: must not carry credentials/.test(err.message),
    );
  });

  it("reads sse+http:// replica URLs as the HTTP+SSE transport, never mixed with others", () => {
    const c = loadConfig({ flags: { upstream: ["legacy=sse+http://10.0.0.5:3001/sse,sse+https://h.example/sse"] } });
    assert.equal(c.upstreams.legacy?.transport, "sse");
    assert.deepEqual(c.upstreams.legacy?.replicas, ["http://10.0.0.5:3001/sse", "https://h.example/sse"]);
    assert.equal(loadConfig({ flags: { upstream: ["m=http://h/mcp"] } }).upstreams.m?.transport, "streamable-http");
    assert.throws(
      () => loadConfig({ flags: { upstream: ["x=sse+http://a/sse,http://b/mcp"] } }),
      /upstreams\.x: every replica of a route speaks the same transport/,
    );
  });

  it("a route runs its own stdio server (`command`) or has replicas: one of the two, with host's settings checked", () => {
    const file = (yaml: string) => {
      const f = join(mkdtempSync(join(tmpdir(), "swy-cfg-")), "c.yaml");
      writeFileSync(f, yaml);
      return f;
    };
    const c = loadConfig({
      file: file(
        "upstreams:\n  mem:\n    command: npx\n    args: [-y, srv]\n    env: [HOME, X=1]\n    host: { pool: 0, maxMemory: 256MiB }\n",
      ),
    });
    assert.deepEqual(c.upstreams.mem?.replicas, []);
    assert.equal(c.upstreams.mem?.host.maxMemory, 256 * 1024 * 1024);
    assert.equal(c.upstreams.mem?.host.maxProcesses, 32);
    assert.throws(
      () => loadConfig({ file: file("upstreams:\n  a:\n    command: npx\n    replicas: [http://h/mcp]\n") }),
      /upstreams\.a\.command: a route runs its own `command` or has `replicas`, not both/,
    );
    assert.throws(
      () => loadConfig({ file: file("upstreams:\n  a:\n    transport: sse\n") }),
      /upstreams\.a\.replicas: needs at least one replica URL/,
    );
    assert.throws(
      () => loadConfig({ file: file("upstreams:\n  a:\n    command: x\n    env: [BAD-NAME]\n") }),
      /upstreams\.a\.env\.0: must be NAME or NAME=VALUE/,
    );
  });

  it("takes Redis TLS options only for rediss://, and a client certificate only with its key", () => {
    const dir = mkdtempSync(join(tmpdir(), "swy-unit-"));
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const file = write("tls.yaml", "store:\n  url: redis://127.0.0.1:6379\n  tls:\n    ca: /x/ca.pem\n");
    assert.throws(() => loadConfig({ file }), /store\.tls: TLS options need a rediss:\/\/ store URL/);
    const halfPair = write("half.yaml", "store:\n  url: rediss://127.0.0.1:6379\n  tls:\n    cert: /x/c.pem\n");
    assert.throws(() => loadConfig({ file: halfPair }), /cert and key go together/);
    const ok = write("ok.yaml", `store:\n  url: rediss://127.0.0.1:6379\n  tls:\n    ca: ${dir}/ca.pem\n`);
    assert.equal(loadConfig({ file: ok }).store.tls.ca, `${dir}/ca.pem`);
  });

  it("keeps docs/config.md in step with the schema (run `npm run docs:config`)", () => {
    const onDisk = readFileSync(new URL("../../docs/config.md", import.meta.url), "utf8");
    assert.equal(onDisk, configReference());
  });
});

describe("configuration of virtual servers", () => {
  const load = (yaml: string) => {
    const file = join(mkdtempSync(join(tmpdir(), "swy-unit-")), "c.yaml");
    writeFileSync(file, yaml);
    return () => loadConfig({ file });
  };
  const routes = `publicUrl: http://gw.test
upstreams:
  a: { replicas: ["http://127.0.0.1:1/mcp"] }
  b:
    replicas: ["http://127.0.0.1:2/mcp"]
    auth: { issuers: ["http://as.test"] }
`;

  it("refuses members that are not routes, a name a route has, and an open door to a protected member", () => {
    assert.throws(
      load(`${routes}virtual:\n  v: { members: [a, nope] }\n`),
      /virtual\.v\.members\.1.*must name a route/s,
    );
    assert.throws(
      load(`${routes}virtual:\n  a: { members: [a] }\n`),
      /virtual\.a.*a route of `upstreams` has this name/s,
    );
    assert.throws(
      load(`${routes}virtual:\n  v: { members: [a, b] }\n`),
      /member b needs a token: the virtual server must need one too/,
    );
    assert.doesNotThrow(load(`${routes}virtual:\n  v: { members: [a, b], auth: { issuers: ["http://as.test"] } }\n`));
  });

  it("refuses a member that would get the client's token as it came", () => {
    const passthrough = routes.replace(
      'auth: { issuers: ["http://as.test"] }',
      'auth: { issuers: ["http://as.test"] }\n    upstreamAuth: passthrough',
    );
    assert.throws(
      load(`${passthrough}virtual:\n  v: { members: [b], auth: { issuers: ["http://as.test"] } }\n`),
      /upstreamAuth: passthrough/,
    );
  });
});
