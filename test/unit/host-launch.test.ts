import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { childEnvironment, launchArgv } from "../../src/host/launch-plan.js";
import { LINES_PER_SECOND, MAX_LINE_CHARS, StderrLog } from "../../src/host/stderr-log.js";

describe("switchyard host: how a process is launched", () => {
  it("the child's environment: only what was allowed, PATH unless named, HOME its own directory unless named", () => {
    const host = { PATH: "/usr/bin", HOME: "/root", SECRET: "s", TOKEN: "t", LANG: "C" };
    assert.deepEqual(childEnvironment([], host, "/w/p1"), { PATH: "/usr/bin", HOME: "/w/p1" });
    assert.deepEqual(childEnvironment(["LANG", "X=1=2", "MISSING"], host, "/w"), {
      PATH: "/usr/bin",
      HOME: "/w",
      LANG: "C",
      X: "1=2",
    });
    assert.deepEqual(childEnvironment(["HOME", "PATH=/opt/bin"], host, "/w"), { PATH: "/opt/bin", HOME: "/root" });
    assert.throws(() => childEnvironment(["BAD NAME"], host, "/w"), /not NAME or NAME=VALUE/);
  });

  it("the command line: setpriv (killed with its parent) and prlimit (limits) in front, where they exist", () => {
    const tools = { setpriv: "/usr/bin/setpriv", prlimit: "/usr/bin/prlimit" };
    assert.deepEqual(launchArgv("npx", ["-y", "srv"], {}, tools), {
      file: "/usr/bin/setpriv",
      args: ["--pdeathsig", "KILL", "--", "npx", "-y", "srv"],
    });
    assert.deepEqual(launchArgv("srv", [], { maxMemoryBytes: 1024, maxCpuSeconds: 5 }, tools), {
      file: "/usr/bin/setpriv",
      args: ["--pdeathsig", "KILL", "--", "/usr/bin/prlimit", "--data=1024", "--cpu=5", "--", "srv"],
    });
    assert.deepEqual(launchArgv("srv", ["a"], {}, {}), { file: "srv", args: ["a"] });
    assert.throws(() => launchArgv("srv", [], { maxMemoryBytes: 1 }, {}), /need prlimit/);
  });

  it("stderr: lines cut at their limit, at most the rate per second, the rest counted and said once", () => {
    const out: Array<string | number> = [];
    const log = new StderrLog((line, dropped) => out.push(line ?? dropped));
    log.push(Buffer.from(`one\r\ntw`));
    log.push(Buffer.from(`o\n${"x".repeat(MAX_LINE_CHARS + 10)}\n`));
    assert.deepEqual(out.slice(0, 2), ["one", "two"]);
    assert.equal(out[2], `${"x".repeat(MAX_LINE_CHARS)}…`);
    out.length = 0;
    log.push(Buffer.from(Array.from({ length: 100 }, (_, i) => `l${i}\n`).join("")));
    log.flush();
    const lines = out.filter((x) => typeof x === "string");
    const dropped = out.filter((x) => typeof x === "number").reduce((a, b) => Number(a) + Number(b), 0);
    assert.ok(lines.length < LINES_PER_SECOND, `${lines.length} lines passed the bucket`);
    assert.equal(lines.length + Number(dropped), 100);
  });
});
