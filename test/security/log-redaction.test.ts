import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, type Replica, sleep, startGateway, startReplica } from "../helpers/procs.js";
import { openSse } from "../helpers/sse.js";

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

describe("logs of an HTTP+SSE session never carry its ids or data", () => {
  it("hashes the gateway's session id and never writes the replica's", async () => {
    const replica = await startReplica("sse");
    const gateway = await startGateway(["--upstream", `svc=sse+${replica.sseUrl}`, "--log-level", "trace"]);
    try {
      const stream = await openSse(`${gateway.base}/svc/sse`);
      const url = (await stream.next((e) => e.event === "endpoint")).data;
      const id = new URL(url).searchParams.get("sessionId") as string;
      const post = (body: string) => rawRequest(url, { headers: { "content-type": "application/json" }, body });
      await post(JSON.stringify(INIT_BODY));
      await stream.next((e) => e.event === "message");
      await post(rpc("notifications/initialized", {}, null));
      await post(rpc("tools/call", { name: "echo", arguments: { text: "SSE-MARKER-5d1e" } }, 2));
      await stream.next((e) => e.data.includes("SSE-MARKER-5d1e"));
      stream.close();
      await sleep(200);
      const log = gateway.lines.join("\n");
      assert.ok(log.includes('"path":"/svc/messages"'), "the message requests are logged");
      // `sessionId=` would be either message URL: the gateway's, or the one the replica announced.
      for (const secret of [id, "SSE-MARKER-5d1e", "sessionId=", "serverInfo"]) {
        assert.ok(!log.includes(secret), `the log must not contain ${secret}`);
      }
    } finally {
      await gateway.stop();
      await replica.stop();
    }
  });
});
