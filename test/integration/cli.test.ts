import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect } from "../helpers/mcp.js";
import { CLI, owned, spawnManaged, writeConfig } from "../helpers/procs.js";
import { waitFor } from "../helpers/wait.js";

/** Every process a test here starts: stopped after the file, whatever the tests did. */
const procs = owned();
after(() => procs.stopAll());

/** `switchyard ARGS` as a process this file owns. */
function cli(args: string[]) {
  const proc = spawnManaged(process.execPath, [CLI, ...args]);
  procs.own(proc);
  return proc;
}

function runCli(args: string[]) {
  const proc = cli(args);
  return proc.exited.then((code) => ({ code, stderr: proc.stderr.join("\n"), stdout: proc.lines.join("\n") }));
}

describe("command line", () => {
  it("fails at start on a bad config, naming the key and what is wrong", async () => {
    const file = writeConfig(`
upstreams:
  svc:
    replicas: [ftp://nope]
sessions:
  idleTTL: 1h
timeouts:
  keepAlive: forever
`);
    const { code, stderr } = await runCli(["serve", "--config", file]);
    assert.equal(code, 2);
    assert.match(stderr, /upstreams\.svc\.replicas\.0: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(stderr, /sessions\.idleTTL: unknown key/);
    assert.match(stderr, /timeouts\.keepAlive: "forever" is not a duration/);
  });

  it("fails on a malformed --upstream and on YAML that does not parse", async () => {
    const bad = await runCli(["serve", "--upstream", "no-equals-sign"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--upstream no-equals-sign: expected NAME=URL/);
    const yaml = await runCli(["serve", "--config", writeConfig("upstreams: [unclosed")]);
    assert.equal(yaml.code, 2);
    assert.match(yaml.stderr, /not valid YAML/);
  });

  it("refuses to start with no upstream", async () => {
    const { code, stderr } = await runCli(["serve"]);
    assert.equal(code, 2);
    assert.match(stderr, /no upstream configured/);
  });

  it("lets flags override the file", async () => {
    const file = writeConfig(
      "listen: 127.0.0.1:1\nlogLevel: debug\nupstreams:\n  svc:\n    replicas: [http://127.0.0.1:9/mcp]\n",
    );
    const proc = cli([
      "serve",
      "--config",
      file,
      "--listen",
      "127.0.0.1:0",
      "--log-level",
      "warn",
      "--upstream",
      "other=http://127.0.0.1:9/mcp",
    ]);
    const line = await proc.waitForLine((l) => l.includes('"listening"'), 60_000);
    const msg = JSON.parse(line) as { url: string; routes: string[] };
    assert.notEqual(new URL(msg.url).port, "1", "--listen overrides listen");
    assert.deepEqual(msg.routes.sort(), ["other", "svc"], "--upstream adds to the file's routes");
    assert.equal(proc.lines.filter((l) => l.includes('"level":20')).length, 0, "--log-level overrides logLevel");
    await proc.stop();
  });

  it("`switchyard demo` runs two replicas behind the gateway and stops everything on Ctrl-C", async () => {
    const demo = cli(["demo", "--listen", "127.0.0.1:0"]);
    // Two replicas and the gateway start first: a minute allows for a machine busy with other tests.
    const line = await demo.waitForLine((l) => l.includes("MCP URL:"), 60_000);
    const url = /(http:\/\/\S+\/demo\/mcp)/.exec(line)?.[1] as string;
    assert.ok(url, "prints the gateway's MCP URL");
    assert.ok(
      demo.lines.some((l) => l.includes("curl")),
      "prints a one-line way to try it",
    );
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const s = await connect(url);
      const first = await s.whoami();
      seen.add(first.replica);
      assert.equal((await s.whoami()).replica, first.replica);
      await s.close();
    }
    assert.deepEqual([...seen].sort(), ["replica-a", "replica-b"]);
    const replicaUrls = /replicas:\s+(\S+)\s+(\S+)/.exec(demo.lines.join("\n"))?.slice(1) ?? [];
    assert.equal(replicaUrls.length, 2);
    demo.child.kill("SIGINT");
    assert.equal(await demo.exited, 0);
    // The replicas went with it: they stop listening (they exit when the demo, their parent, is gone).
    await waitFor(
      "the demo's replicas to stop listening",
      async () => {
        const refused = await Promise.all(
          replicaUrls.map((r) =>
            fetch(r).then(
              (res) => {
                void res.body?.cancel();
                return false;
              },
              () => true,
            ),
          ),
        );
        return refused.every(Boolean);
      },
      { timeoutMs: 10_000 },
    );
  });
});
