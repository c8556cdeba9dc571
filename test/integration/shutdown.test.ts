import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { connect, INIT_BODY } from "../helpers/mcp.js";
import { type Replica, sleep, startGateway, startReplica, writeConfig } from "../helpers/procs.js";

/** Open the session's standalone GET stream; resolves once the gateway has answered with SSE headers. */
function openGetStream(url: string, sessionId: string): Promise<{ closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        headers: { accept: "text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET stream answered ${res.statusCode}`));
          return;
        }
        const closed = new Promise<void>((r) => res.once("close", () => r()));
        res.resume();
        resolve({ closed });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("graceful shutdown on SIGTERM", () => {
  let replica: Replica;
  before(async () => {
    replica = await startReplica("r");
  });
  after(async () => {
    await replica?.stop();
  });

  it("finishes in-flight requests, refuses new connections, then closes streams and exits 0", async () => {
    const config = writeConfig(`logLevel: warn\ntimeouts:\n  shutdownGrace: 5s\n`);
    const gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--config", config]);
    const s = await connect(gateway.route("svc"));
    // A second session, raw, holding its standalone GET stream open.
    const init = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
    const stream = await openGetStream(gateway.route("svc"), init.headers["mcp-session-id"] as string);
    const call = s.client.callTool({ name: "countdown", arguments: { steps: 4, delayMs: 250 } });
    await sleep(200);
    const signalledAt = Date.now();
    gateway.child.kill("SIGTERM");
    await sleep(100);
    await assert.rejects(fetch(`${gateway.base}/healthz`), "no new connections once draining");
    const result = (await call) as { content: Array<{ text: string }> };
    assert.equal(result.content[0]?.text, "done on r", "the in-flight call completed");
    await stream.closed;
    assert.equal(await gateway.exited, 0);
    assert.ok(Date.now() - signalledAt < 4000, "exited once the in-flight request was done, not at the deadline");
  });

  it("cuts requests still running at the deadline", async () => {
    const config = writeConfig(`logLevel: warn\ntimeouts:\n  shutdownGrace: 500ms\n`);
    const gateway = await startGateway(["--upstream", `svc=${replica.url}`, "--config", config]);
    const init = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
    const sid = init.headers["mcp-session-id"] as string;
    // A 5-second tool call, read raw: its answer must come out cut, not complete.
    const answer = new Promise<{ text: string; complete: boolean }>((resolve) => {
      const req = request(
        gateway.route("svc"),
        {
          method: "POST",
          headers: sessionHeaders(sid),
        },
        (res) => {
          let text = "";
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () => resolve({ text, complete: true }));
          res.on("error", () => resolve({ text, complete: false }));
          res.on("close", () => resolve({ text, complete: res.complete }));
        },
      );
      req.on("error", () => resolve({ text: "", complete: false }));
      req.end(rpc("tools/call", { name: "countdown", arguments: { steps: 20, delayMs: 250 } }, 2));
    });
    await sleep(200);
    const signalledAt = Date.now();
    gateway.child.kill("SIGTERM");
    assert.equal(await gateway.exited, 0);
    const took = Date.now() - signalledAt;
    assert.ok(took >= 450 && took < 3000, `exited after the grace period (${took} ms)`);
    const { text, complete } = await answer;
    assert.equal(complete, false, "the unfinished answer is cut, not passed off as complete");
    assert.doesNotMatch(text, /done on r/);
  });
});
