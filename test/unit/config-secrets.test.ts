import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "swy-secrets-"));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
const config = (yaml: string) => loadConfig({ file: file(`c${Math.random()}.yaml`, yaml) });

describe("secret options from mounted files and the environment", () => {
  it("reads metrics.tokenFile, admin.tokenFile, store.passwordFile and tokens.keys[].secretFile", () => {
    const key = randomBytes(32).toString("base64");
    const c = config(`metrics:
  tokenFile: ${file("metrics", "metrics-token-0123456789\n")}
admin:
  tokenFile: ${file("admin", "admin-token-0123456789\n")}
store:
  passwordFile: ${file("redis", "hunter2\n")}
tokens:
  keys:
    - id: 4
      secretFile: ${file("key", `${key}\n`)}
`);
    assert.equal(c.metrics.token, "metrics-token-0123456789");
    assert.equal(c.admin.token, "admin-token-0123456789");
    assert.equal(c.store.password, "hunter2");
    assert.equal(c.tokens.keys[0]?.secret, key);
  });

  it("takes SWITCHYARD_METRICS_TOKEN and SWITCHYARD_TOKEN_KEYS when the file does not set them", () => {
    const [a, b] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
    process.env.SWITCHYARD_METRICS_TOKEN = "from-the-environment-0123";
    process.env.SWITCHYARD_TOKEN_KEYS = `2:${a}, 1:${b}`;
    try {
      const c = config("logLevel: warn\n");
      assert.equal(c.metrics.token, "from-the-environment-0123");
      assert.deepEqual(
        c.tokens.keys.map((k) => [k.id, k.secret]),
        [
          [2, a],
          [1, b],
        ],
      );
    } finally {
      delete process.env.SWITCHYARD_METRICS_TOKEN;
      delete process.env.SWITCHYARD_TOKEN_KEYS;
    }
  });

  it("refuses a secret given twice, or a file it cannot read, naming the key", () => {
    assert.throws(
      () => config(`metrics:\n  token: abcdefghijklmnopqrstu\n  tokenFile: ${file("t", "x")}\n`),
      (err: Error) =>
        err instanceof ConfigError && /metrics\.token: give token or tokenFile, not both/.test(err.message),
    );
    assert.throws(
      () =>
        config(
          `upstreams:\n  a:\n    replicas: [http://a/mcp]\n    headerFiles:\n      X-Key: ${join(dir, "missing")}\n`,
        ),
      (err: Error) => err instanceof ConfigError && /upstreams\.a\.headerFiles\.X-Key: cannot read/.test(err.message),
    );
  });
});
