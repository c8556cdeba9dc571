import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc } from "../helpers/http.js";
import { INIT_BODY, MCP_HEADERS } from "../helpers/mcp.js";
import { type GatewayProc, owned, type Replica, startGateway, startReplica } from "../helpers/procs.js";
import { openSse } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait.js";

/** The gateway's request log lines so far (one per request, written when its response has closed). */
function requestLines(gateway: GatewayProc): Array<Record<string, unknown>> {
  return gateway.lines.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l));
}

describe("logs never carry secrets", () => {
  const procs = owned();
  let replica: Replica;
  let gateway: GatewayProc;

  before(async () => {
    replica = await procs.own(startReplica("r"));
    gateway = await procs.own(startGateway(["--upstream", `svc=${replica.url}`, "--log-level", "trace"]));
  });
  after(() => procs.stopAll());

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
    // The four requests logged, the refused one (the last) among them.
    await waitFor("the request log lines of the four requests", () => {
      const logged = requestLines(gateway);
      return logged.length >= 4 && logged.some((r) => r.code === "SWY_SESSION_NOT_FOUND");
    });
    const log = gateway.lines.join("\n");
    const requests = requestLines(gateway);
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
  const procs = owned();
  after(() => procs.stopAll());

  it("hashes the gateway's session id and never writes the replica's", async () => {
    const replica = await procs.own(startReplica("sse"));
    const gateway = await procs.own(startGateway(["--upstream", `svc=sse+${replica.sseUrl}`, "--log-level", "trace"]));
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
    // The stream's own line, written when the gateway saw it close, after the three messages' lines.
    await waitFor("the request log lines of the three messages and of the closed stream", () => {
      const logged = requestLines(gateway);
      return logged.filter((r) => r.path === "/svc/messages").length >= 3 && logged.some((r) => r.path === "/svc/sse");
    });
    const log = gateway.lines.join("\n");
    assert.ok(log.includes('"path":"/svc/messages"'), "the message requests are logged");
    // `sessionId=` would be either message URL: the gateway's, or the one the replica announced.
    for (const secret of [id, "SSE-MARKER-5d1e", "sessionId=", "serverInfo"]) {
      assert.ok(!log.includes(secret), `the log must not contain ${secret}`);
    }
  });
});
