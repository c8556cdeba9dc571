import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, type Replica, sleep, startGateway, startReplica } from "../helpers/procs.js";

describe("logs never carry secrets", () => {
  let replica: Replica;
  let gateway: GatewayProc;

  before(async () => {
    replica = await startReplica("r");
    gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "trace"]);
  });
  after(async () => {
    await gateway?.stop();
    await replica?.stop();
  });

  it("logs each request with a session hash, never bodies, SSE data, Authorization or raw session ids", async () => {
    const secretToken = "Bearer tok-SECRET-7f3a";
    const init = await rawRequest(gateway.route("svc"), {
      headers: { ...MCP_HEADERS, authorization: secretToken },
      body: JSON.stringify(INIT_BODY),
    });
    const sid = init.headers["mcp-session-id"] as string;
    const headers = {
      ...MCP_HEADERS,
      authorization: secretToken,
      "mcp-session-id": sid,
      "mcp-protocol-version": "2025-11-25",
    };
    await rawRequest(gateway.route("svc"), { headers, body: rpc("notifications/initialized", {}, null) });
    const call = await rawRequest(gateway.route("svc"), {
      headers,
      body: rpc("tools/call", { name: "echo", arguments: { text: "BODY-MARKER-91c2" } }),
    });
    assert.match(call.body.toString(), /BODY-MARKER-91c2/, "the marker did travel through the gateway");
    await rawRequest(gateway.route("svc"), {
      headers: { ...headers, "mcp-session-id": "unknown-RAW-ID-55" },
      body: rpc("ping"),
    });
    await sleep(200);
    const log = gateway.lines.join("\n");
    const requests = gateway.lines.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l));
    assert.ok(requests.length >= 4, "one line per request");
    const toolCall = requests.find((r) => r.toolName === "echo");
    assert.equal(toolCall?.rpcMethod, "tools/call");
    assert.equal(toolCall?.status, 200);
    assert.match(String(toolCall?.session), /^[A-Za-z0-9_-]{12}$/, "a hash of the session id");
    assert.ok(
      requests.some((r) => r.code === "SWY_SESSION_NOT_FOUND"),
      "refusals carry their code",
    );
    for (const secret of [sid, "unknown-RAW-ID-55", "tok-SECRET-7f3a", "BODY-MARKER-91c2", "serverInfo"]) {
      assert.ok(!log.includes(secret), `the log must not contain ${secret}`);
    }
  });
});
