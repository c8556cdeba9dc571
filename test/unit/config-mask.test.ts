import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { MASK, maskSecrets } from "../../src/config/mask.js";
import { writeConfig } from "../helpers/procs.js";

describe("the configuration as an operator sees it (secrets masked)", () => {
  it("masks every kind of secret a configuration holds, and keeps what is set by name", () => {
    const secrets = [
      "admin-token-0123456789abcdef",
      "read-token-0123456789abcdef",
      "metrics-token-0123456789",
      "Bearer upstream-credential-1",
      "sk-live-hosted-env-secret",
      "redis-password-in-url",
      "ZmFrZS1rZXktbWF0ZXJpYWwtMzItYnl0ZXMtbG9uZyE=",
      "otlp-header-secret",
    ];
    const config = loadConfig({
      file: writeConfig(`admin:
  token: ${secrets[0]}
  readToken: ${secrets[1]}
metrics:
  token: ${secrets[2]}
store:
  url: redis://default:${secrets[5]}@127.0.0.1:6379/0
affinity: token
tokens:
  keys: [{ id: 1, secret: "${secrets[6]}" }]
tracing:
  otlp:
    endpoint: http://127.0.0.1:4318
    headers: { x-api-key: ${secrets[7]} }
upstreams:
  svc:
    replicas: [http://127.0.0.1:3001/mcp]
    headers: { authorization: "${secrets[3]}" }
  local:
    command: node
    args: [server.js]
    env: [API_KEY=${secrets[4]}]
`),
    });
    const shown = JSON.stringify(maskSecrets(config));
    for (const s of secrets) assert.ok(!shown.includes(s), `${s} is shown`);
    const view = maskSecrets(config) as typeof config;
    assert.equal(view.admin.token, MASK);
    assert.deepEqual(view.upstreams.svc?.headers, { authorization: MASK }, "a header is named, its value masked");
    assert.deepEqual(view.upstreams.local?.env, [`API_KEY=${MASK}`]);
    assert.equal(view.store.url, `redis://default:${MASK}@127.0.0.1:6379/0`);
    assert.deepEqual(view.upstreams.svc?.replicas, ["http://127.0.0.1:3001/mcp"], "what is no secret stays");
    assert.equal(view.listen, config.listen);
  });
});
